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

// ConsumerOptions says what a Consumer reads and where it keeps positions.
type ConsumerOptions struct {
	// Stream is the Kinesis stream to read. Required.
	Stream string
	// DB is the application's database, holding logpipe_kinesisoffset.
	// Required.
	DB *gorm.DB
	// Logger receives the consumer's logs (shard changes, retried
	// errors). Nil means no logging.
	Logger *slog.Logger
}

// Consumer reads every shard of one Kinesis stream. It implements
// backend.Consumer and backend.IdleAware. It is used by one goroutine at a
// time and starts no goroutines: all reading happens inside Fetch.
type Consumer struct {
	cfg    Config
	api    API
	region string
	stream string
	store  offsetstore.Kinesis
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
	idle     bool
	closed   bool
}

var (
	_ backend.Consumer  = (*Consumer)(nil)
	_ backend.IdleAware = (*Consumer)(nil)
)

// NewConsumer validates cfg and opts, loads the stored positions of the
// stream from opts.DB (table logpipe_kinesisoffset, keyed by the resolved
// region), and lists the stream's shards. A shard with a stored position is
// read after that sequence number; any other starts at
// cfg.ShardIteratorType.
func NewConsumer(ctx context.Context, cfg Config, opts ConsumerOptions) (*Consumer, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if opts.Stream == "" {
		errs = append(errs, errors.New("logpipe/kinesis: ConsumerOptions.Stream is empty: name the stream to read"))
	}
	if opts.DB == nil {
		errs = append(errs, errors.New("logpipe/kinesis: ConsumerOptions.DB is nil: pass the application's database, which holds logpipe_kinesisoffset"))
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
		stream: opts.Stream,
		store:  offsetstore.Kinesis{DB: opts.DB, Region: region},
		log:    log.With("stream", opts.Stream),
		shards: make(map[string]*shard),
	}
	if c.stored, err = c.store.Load(ctx, opts.Stream); err != nil {
		return nil, fmt.Errorf("logpipe/kinesis: %w", err)
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
// interval, and ctx.Err() when ctx ends. Throttled or failing shards are
// retried later with backoff, never dropped; an expired iterator is renewed
// after the last record returned.
func (c *Consumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	if c.closed {
		return nil, ErrClosed
	}
	deadline := time.Now().Add(c.cfg.PollInterval)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := time.Now()
		if c.syncDue(now) {
			if err := c.sync(ctx, types.ShardIteratorTypeTrimHorizon); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				c.log.Warn("logpipe/kinesis: listing shards failed; will retry", "error", err)
			}
		}
		recs, allAtTip := c.pass(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			c.idle = false
			return recs, nil
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
	if err := c.store.Commit(ctx, tx, c.stream, rec.Shard, rec.SequenceNumber); err != nil {
		return fmt.Errorf("logpipe/kinesis: %w", err)
	}
	return nil
}

// Close releases the consumer; later calls return ErrClosed. It holds no
// connections of its own and is idempotent.
func (c *Consumer) Close() error {
	c.closed = true
	return nil
}

// pass reads at most one page from each shard that may be read now, in turn
// from where the last pass stopped, and returns the first non-empty page.
// allAtTip reports that every shard still to be read was found at its tip.
func (c *Consumer) pass(ctx context.Context) (recs []backend.Record, allAtTip bool) {
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
		recs = c.read(ctx, s)
		if ctx.Err() != nil {
			return nil, false
		}
		if len(recs) > 0 {
			c.next = (idx + 1) % n
			return recs, false
		}
		if !s.done() {
			allAtTip = allAtTip && s.atTip
		}
	}
	return nil, allAtTip
}

// parentsDone reports whether every parent of s that is still known has been
// read to its end, so that s may be read without breaking per-key order.
func (c *Consumer) parentsDone(s *shard) bool {
	for _, id := range s.parents {
		if p, ok := c.shards[id]; ok && !p.done() {
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

// sync lists the stream's shards (every page) and adds those not known yet,
// starting at start unless a position is stored. Known shards that are no
// longer listed are marked gone.
func (c *Consumer) sync(ctx context.Context, start types.ShardIteratorType) error {
	c.lastSync = time.Now()
	c.syncSoon = false
	listed := make(map[string]bool)
	in := &kinesis.ListShardsInput{StreamName: aws.String(c.stream)}
	for {
		out, err := c.api.ListShards(ctx, in)
		if err != nil {
			return fmt.Errorf("logpipe/kinesis: list shards of stream %q: %w", c.stream, err)
		}
		for _, sh := range out.Shards {
			id := aws.ToString(sh.ShardId)
			listed[id] = true
			c.add(id, parentsOf(sh.ParentShardId, sh.AdjacentParentShardId), start)
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	for id, s := range c.shards {
		wasGone := s.gone
		s.gone = !listed[id]
		if s.gone && !wasGone && !s.ended {
			c.log.Warn("logpipe/kinesis: shard is no longer listed (trimmed); it is not read any more", "shard", id)
		}
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
}
