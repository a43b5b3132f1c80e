package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// ConsumerOptions says what a Consumer reads (Topic is the stream) and where
// it keeps positions: the offset store Offsets, else logpipe_kinesisoffset
// in DB, keyed by the resolved region. Kinesis has no broker-side offsets:
// BrokerOffsets is refused.
type ConsumerOptions = backend.ConsumerOptions

// Consumer reads every shard of one Kinesis stream, or with Config.Leases
// the shards it holds leases on. It implements backend.Consumer and
// backend.IdleAware. It is used by one goroutine at a time. All reading
// happens inside Fetch; without leases it starts no goroutines, with leases
// one, which renews and takes leases until Close.
type Consumer struct {
	cfg    Config
	api    API
	region string
	stream string
	name   string
	store  backend.OffsetStore
	log    *slog.Logger

	// stored holds the positions loaded from the database at start.
	stored map[string]string
	shards map[string]*shard
	// order is the shard ids, sorted, in which shards are read in turn.
	order []string
	// next is the index in order where the next pass starts.
	next int

	lastSync time.Time
	syncSoon bool
	// syncFailures counts the consecutive listings that failed with an
	// error that is not transient.
	syncFailures int
	idle         bool
	closed       bool

	onAssign func(backend.Assignment) // opts.OnAssign; see ops.go
	// leases shares the stream's shards with other processes (Config.Leases);
	// nil without leases.
	leases *keeper
	// acquired are leases taken that Fetch has not yet started reading.
	acquired []leaseEvent
}

var (
	_ backend.Consumer  = (*Consumer)(nil)
	_ backend.IdleAware = (*Consumer)(nil)
)

// NewConsumer validates cfg and opts, loads the stored positions of the
// stream from opts.DB (table logpipe_kinesisoffset, keyed by the resolved
// region), and lists the stream's shards. A shard with a stored position is
// read after that sequence number; a shard whose parent is listed or has a
// stored position from its start (TRIM_HORIZON); any other starts at
// cfg.ShardIteratorType. A stream that does not exist is a
// *MissingStreamError.
//
// With cfg.Leases (which needs opts.DB, for logpipe_kinesis_lease), it
// instead creates the lease rows of the listed shards and starts the
// goroutine that takes this process's share of them (see LeaseConfig); a
// shard is read once its lease is taken, from its stored position loaded
// after the take.
func NewConsumer(ctx context.Context, cfg Config, opts ConsumerOptions) (*Consumer, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if opts.Topic == "" {
		errs = append(errs, errors.New("logpipe/kinesis: ConsumerOptions.Topic is empty: name the stream to read"))
	}
	if opts.BrokerOffsets {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: positions kept in the broker: %w: Kinesis has no consumer groups; keep positions in the database", backend.ErrUnsupported))
	} else if opts.Offsets == nil && opts.DB == nil {
		errs = append(errs, errors.New("logpipe/kinesis: ConsumerOptions has neither DB nor Offsets: pass the application's database, which holds logpipe_kinesisoffset"))
	}
	if cfg.Leases != nil && opts.DB == nil {
		errs = append(errs, errors.New("logpipe/kinesis: Config.Leases needs ConsumerOptions.DB, which holds logpipe_kinesis_lease"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	api, region, err := cfg.client(ctx)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{
		cfg:    cfg,
		api:    api,
		region: region,
		stream: opts.Topic,
		name:   opts.Name,
		log:    log.With("stream", opts.Topic),
		shards: make(map[string]*shard),

		onAssign: opts.OnAssign,
	}
	if c.store, err = opts.Store(func(db *gorm.DB) backend.OffsetStore { return &offsetstore.Kinesis{DB: db, Region: region} }); err != nil {
		return nil, fmt.Errorf("logpipe/kinesis: %w", err)
	}
	loaded, err := c.store.Load(ctx, c.name, opts.Topic)
	if err != nil {
		return nil, fmt.Errorf("logpipe/kinesis: %w", err)
	}
	c.stored = make(map[string]string, len(loaded))
	for _, pos := range loaded {
		c.stored[pos.Shard] = pos.SequenceNumber
	}
	if cfg.Leases != nil {
		if err := c.startLeases(ctx, opts); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := c.sync(ctx, cfg.ShardIteratorType); err != nil {
		return nil, err
	}
	return c, nil
}

// Region is the resolved AWS region, the region column of the consumer's
// rows in logpipe_kinesisoffset.
func (c *Consumer) Region() string { return c.region }

// Fetch returns the next page of records of one shard, reading the shards in
// turn. It returns an empty slice when no shard had records within the poll
// interval, and ctx.Err() when ctx ends; records already read when ctx ends
// are returned (with a nil error), never dropped. Throttled or transiently
// failing shards are retried later with backoff, never dropped; an expired
// iterator is renewed after the last record returned. Any other API error
// is retried once and then returned, naming the stream and shard; a deleted
// stream is a *MissingStreamError.
func (c *Consumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	if c.closed {
		return nil, ErrClosed
	}
	deadline := time.Now().Add(c.cfg.PollInterval)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.leases != nil {
			if err := c.followLeases(ctx); err != nil {
				return nil, err
			}
		}
		now := time.Now()
		if c.leases == nil && c.syncDue(now) {
			if err := c.resync(ctx); err != nil {
				return nil, err
			}
		}
		recs, allAtTip, err := c.pass(ctx)
		if len(recs) > 0 {
			// Even if ctx has ended: the shard has moved past them.
			c.idle = false
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.idle = allAtTip
		now = time.Now()
		if !now.Before(deadline) {
			return []backend.Record{}, nil
		}
		wake := deadline
		if t, ok := c.nextReadAt(); ok && t.Before(wake) {
			wake = t
		}
		if err := wait.Sleep(ctx, max(wake.Sub(now), time.Millisecond)); err != nil {
			return nil, err
		}
	}
}

// resync lists the shards from Fetch. A transient failure is logged and
// retried a second later; any other is retried once, and returned when it
// happens twice in a row, so that a consumer whose stream was deleted or
// whose permissions were revoked stops instead of waiting forever.
func (c *Consumer) resync(ctx context.Context) error {
	err := c.sync(ctx, types.ShardIteratorTypeTrimHorizon)
	if err == nil {
		c.syncFailures = 0
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.syncSoon = true
	if isTransient(err) {
		c.log.Warn("logpipe/kinesis: listing shards failed; will retry", "error", err)
		return nil
	}
	c.syncFailures++
	if c.syncFailures > 1 {
		return err
	}
	c.log.Warn("logpipe/kinesis: listing shards failed; will retry once", "error", err)
	return nil
}

// Idle reports whether the most recent empty Fetch found every shard at its
// tip (MillisBehindLatest 0, no records) and no shard waiting to be read.
func (c *Consumer) Idle() bool { return c.idle }

// Commit stores rec's sequence number as the last applied record of its
// shard, in tx when tx is not nil (else directly in the database).
func (c *Consumer) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	if c.closed {
		return ErrClosed
	}
	if rec.Shard == "" || rec.SequenceNumber == "" {
		return fmt.Errorf("logpipe/kinesis: commit %s: the record has no shard or sequence number", rec.Position)
	}
	cp := backend.Checkpoint{Position: rec.Position, Consumer: c.name}
	if c.leases != nil {
		return c.commitLeased(ctx, tx, cp)
	}
	if err := c.store.Commit(ctx, tx, cp); err != nil {
		return fmt.Errorf("logpipe/kinesis: %w", err)
	}
	return nil
}

// Close releases the consumer; later calls return ErrClosed. It holds no
// connections of its own and is idempotent. With leases, it stops their
// goroutine and gives every lease back at once (waiting at most 5 seconds
// for the database), so that other processes take the shards over without
// waiting for the leases to expire.
func (c *Consumer) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.leases != nil {
		return c.leases.stop()
	}
	return nil
}

// pass reads at most one page from each shard that may be read now, in turn
// from where the last pass stopped, and returns the first non-empty page.
// allAtTip reports that every shard still to be read was found at its tip.
// err is an error that Fetch must return (see failed).
func (c *Consumer) pass(ctx context.Context) (recs []backend.Record, allAtTip bool, err error) {
	allAtTip = true
	n := len(c.order)
	for i := 0; i < n; i++ {
		idx := (c.next + i) % n
		s := c.shards[c.order[idx]]
		if s.done() {
			continue
		}
		if !c.parentsDone(s) || time.Now().Before(s.readAt) {
			allAtTip = allAtTip && s.atTip
			continue
		}
		recs, err = c.read(ctx, s)
		if len(recs) > 0 {
			c.next = (idx + 1) % n
			return recs, false, nil
		}
		if err != nil || ctx.Err() != nil {
			return nil, false, err
		}
		if !s.done() {
			allAtTip = allAtTip && s.atTip
		}
	}
	return nil, allAtTip, nil
}

// parentsDone reports whether every parent of s is known to be finished:
// read to its end, or gone (trimmed, or not listed by a listing made after
// s was known). A parent the consumer does not know yet (a child found
// through ChildShards whose other parent was created by a reshard since the
// last listing) holds s back, and the shards are listed again soon: reading
// s before it would put records of a key ahead of older ones.
func (c *Consumer) parentsDone(s *shard) bool {
	if c.leases != nil {
		return true // a child is leased only once its parents are finished
	}
	for _, id := range s.parents {
		p, ok := c.shards[id]
		if !ok {
			c.syncSoon = true
			return false
		}
		if !p.done() {
			return false
		}
	}
	return true
}

// nextReadAt is the earliest time a shard may be read again.
func (c *Consumer) nextReadAt() (time.Time, bool) {
	var t time.Time
	found := false
	for _, s := range c.shards {
		if s.done() || !c.parentsDone(s) {
			continue
		}
		if !found || s.readAt.Before(t) {
			t, found = s.readAt, true
		}
	}
	return t, found
}

// syncDue reports whether the shards should be listed again.
func (c *Consumer) syncDue(now time.Time) bool {
	since := now.Sub(c.lastSync)
	return since >= c.cfg.ShardSyncInterval || (c.syncSoon && since >= time.Second)
}

// sync lists the stream's shards (every page) and adds those not known yet.
// A new shard starts at start, unless a position is stored for it, or one
// of its parents is listed or has a stored position: then it starts at
// TRIM_HORIZON, since its records follow the parent's and starting at
// LATEST would skip those written while no consumer ran. Known shards that
// are no longer listed are marked gone, and parents of known shards that
// are neither known nor listed are recorded as gone placeholders, so that
// they no longer hold back their children. A missing stream is a
// *MissingStreamError.
func (c *Consumer) sync(ctx context.Context, start types.ShardIteratorType) error {
	c.lastSync = time.Now()
	c.syncSoon = false
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(c.stream)}
	for {
		out, err := withTimeout(ctx, c.cfg.RequestTimeout, func(ctx context.Context) (*kinesis.ListShardsOutput, error) {
			return c.api.ListShards(ctx, in, noSDKRetries)
		})
		if err != nil {
			if isNotFound(err) {
				return &MissingStreamError{Stream: c.stream, Region: c.region, Err: err}
			}
			return fmt.Errorf("logpipe/kinesis: list shards of stream %q: %w", c.stream, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	listed := make(map[string]bool, len(shards))
	for _, sh := range shards {
		listed[aws.ToString(sh.ShardId)] = true
	}
	for _, sh := range shards {
		if c.leases != nil {
			break // shards are read once leased, not as listed
		}
		parents := parentsOf(sh.ParentShardId, sh.AdjacentParentShardId)
		from := start
		for _, p := range parents {
			if listed[p] || c.stored[p] != "" {
				from = types.ShardIteratorTypeTrimHorizon
			}
		}
		c.add(aws.ToString(sh.ShardId), parents, from)
	}
	for id, s := range c.shards {
		wasGone := s.gone
		s.gone = !listed[id]
		if s.gone && !wasGone && !s.ended {
			c.log.Warn("logpipe/kinesis: shard is no longer listed (trimmed); it is not read any more", "shard", id)
		}
	}
	var gone []string
	for _, s := range c.shards {
		if c.leases != nil {
			break
		}
		for _, p := range s.parents {
			if _, known := c.shards[p]; !known && !listed[p] {
				gone = append(gone, p)
			}
		}
	}
	for _, p := range gone {
		c.add(p, nil, start)
		c.shards[p].gone = true
		c.log.Debug("logpipe/kinesis: parent shard is not listed; taken as gone", "shard", p)
	}
	return nil
}

// add registers a shard the consumer does not know yet.
func (c *Consumer) add(id string, parents []string, start types.ShardIteratorType) {
	if _, ok := c.shards[id]; ok {
		return
	}
	after := c.stored[id]
	c.shards[id] = newShard(id, parents, start, after)
	c.order = append(c.order, id)
	sort.Strings(c.order)
	c.log.Debug("logpipe/kinesis: shard added", "shard", id, "parents", parents, "after", after)
	c.assigned(id)
}
