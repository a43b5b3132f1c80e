package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// ConsumerOptions says what a Consumer reads and where it keeps its
// positions: in the offset store Offsets, else in logpipe_kafkaoffset of DB
// (written in the same transaction as what a record's handler saves:
// exactly-once), or with BrokerOffsets as the committed offsets of the
// consumer group Config.GroupID, written after the handler's transaction
// commits (at-least-once: a crash between the two applies the record
// again). Logger, when set, overrides Config.Logger.
type ConsumerOptions = backend.ConsumerOptions

// Consumer reads every partition of one topic. It implements
// backend.Consumer and backend.OutsideTransaction. Fetch and Commit are for
// one goroutine at a time; Close may be called from any.
//
// A goroutine per partition fetches records, starting at the stored offset
// (or the earliest offset when none is stored), and hands them over in
// order; it blocks while the caller has not taken the previous records, so
// nothing is read ahead beyond one fetch per partition, and nothing is lost
// when a Fetch's context ends. A goroutine refreshes the topic's metadata
// every Config.MetadataRefresh and starts reading partitions added to the
// topic. Nothing is committed until Commit.
//
// With Config.GroupAssignment, it reads only the partitions the consumer
// group gives it, each claimed in the offset store and read from its stored
// position, and stops reading them at each rebalance; its commits are
// fenced (see Commit, and the package documentation, "Group assignment").
type Consumer struct {
	cfg    Config
	topic  string
	name   string // the consumer's name, for the offset store
	store  OffsetStore
	broker bool // offsets are a consumer group's
	log    *slog.Logger
	conn   *conn

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	recs   chan fetched
	errs   chan error

	started atomic.Bool
	mu      sync.Mutex // guards readers, rewind and the start
	readers map[int32]*partitionReader

	onAssign func(backend.Assignment) // opts.OnAssign; see ops.go
	// Group assignment (Config.GroupAssignment): the fencing token under
	// which each partition's last records were handed out by Fetch (used by
	// Commit, on the Fetch goroutine), and whether a fenced commit asks for
	// every partition to be read again from its stored position.
	group  bool
	handed map[int32]int64
	rewind bool

	closeOnce sync.Once
}

// fetched is a record on its way from a partition reader to Fetch.
type fetched struct {
	rec backend.Record
	r   *partitionReader
}

var (
	_ backend.Consumer           = (*Consumer)(nil)
	_ backend.OutsideTransaction = (*Consumer)(nil)
)

// NewConsumer validates cfg and opts and returns a Consumer. It does not
// contact the brokers and starts no goroutine: the first Fetch does both,
// and returns a *MissingTopicError when the topic does not exist.
func NewConsumer(cfg Config, opts ConsumerOptions) (*Consumer, error) {
	err := cfg.Validate()
	if opts.Topic == "" {
		err = errors.Join(err, errors.New("logpipe/kafka: ConsumerOptions.Topic is empty: name the topic to read"))
	}
	var store OffsetStore
	if cfg.GroupAssignment {
		err = errors.Join(err, cfg.checkGroupAssignment(opts))
	}
	if opts.BrokerOffsets {
		err = errors.Join(err, cfg.brokerOffsets())
	} else if s, serr := opts.Store(func(db *gorm.DB) OffsetStore { return &offsetstore.Kafka{DB: db} }); serr != nil {
		err = errors.Join(err, fmt.Errorf("logpipe/kafka: %w", serr))
	} else {
		store = s
	}
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c, err := newConn(cfg)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = cfg.Logger
	}
	ctx, cancel := context.WithCancel(context.Background())
	cons := &Consumer{
		cfg: cfg, topic: opts.Topic, name: opts.Name, store: store, log: log.With("topic", opts.Topic), conn: c,
		ctx: ctx, cancel: cancel,
		recs:    make(chan fetched, 64),
		errs:    make(chan error, 1),
		readers: map[int32]*partitionReader{},

		onAssign: opts.OnAssign,
		group:    cfg.GroupAssignment,
		handed:   map[int32]int64{},
	}
	if cons.store == nil {
		cons.store = groupOffsets{conn: c, group: cfg.GroupID}
		cons.broker = true
	}
	return cons, nil
}

// CommitsOutsideTransaction reports whether offsets are kept by the broker
// (ConsumerOptions.BrokerOffsets), in which case Commit ignores its tx and
// must be called after the application's transaction has committed.
func (c *Consumer) CommitsOutsideTransaction() bool { return c.broker }

// Fetch returns the next records, up to Config.MaxFetchRecords, in offset
// order within each partition. It returns an empty slice when none arrived
// within Config.PollInterval, ctx.Err() when ctx ends, ErrClosed after
// Close, a *MissingTopicError when the topic does not exist (checked on the
// first call, and again at each metadata refresh), and the error of a
// partition that cannot be read (authorization, for example).
//
// The first call looks the topic up and loads the stored offsets; it fails
// when that takes longer than Config.DialTimeout + Config.PollInterval (no
// broker answers). Later, a broker that goes away is retried in the
// background, and Fetch returns empty results until it is back.
func (c *Consumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	if c.group {
		c.mu.Lock()
		var err error
		if c.rewind && c.ctx.Err() == nil {
			err = c.rewindReaders(ctx)
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	timer := time.NewTimer(c.cfg.PollInterval)
	defer timer.Stop()
	var out []backend.Record
	batch := map[int32]*partitionReader{}
	for len(out) == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		case err := <-c.errs:
			return nil, err
		case <-timer.C:
			return []backend.Record{}, nil
		case f := <-c.recs:
			out = c.take(out, f, batch)
		}
	}
	for len(out) < c.cfg.MaxFetchRecords {
		select {
		case f := <-c.recs:
			out = c.take(out, f, batch)
		default:
			return out, nil
		}
	}
	return out, nil
}

// take adds f's record to out unless its reader was stopped, and notes the
// fencing token it is to be committed under. batch holds the reader of each
// partition whose records out holds: when a partition's reader was
// replaced while Fetch was collecting (a rebalance), the former reader's
// records are dropped, since the new one reads them again from the stored
// position and they would be committed under the new token.
func (c *Consumer) take(out []backend.Record, f fetched, batch map[int32]*partitionReader) []backend.Record {
	if !f.r.active() {
		return out
	}
	p := f.r.partition
	if prev, ok := batch[p]; ok && prev != f.r {
		out = slices.DeleteFunc(out, func(r backend.Record) bool { return r.Partition == p })
	}
	batch[p] = f.r
	c.handed[p] = f.r.fence
	return append(out, f.rec)
}

// Commit stores rec's offset plus one as its partition's next offset to
// read: through tx into the OffsetStore, or to the consumer group.
//
// With Config.GroupAssignment, rec must be one of the records the latest
// Fetch returned of its partition: the commit carries the fencing token
// under which they were read, and fails with an error matching
// backend.ErrFenced when another process (or this one, in a later
// generation) has claimed the partition since. The caller then rolls tx
// back and drops the records it holds; the next Fetch reads every partition
// still assigned again from its stored position.
func (c *Consumer) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	fence := c.handed[rec.Partition]
	err := c.store.Commit(ctx, tx, backend.Checkpoint{Position: rec.Position, Consumer: c.name, Fence: fence})
	if c.group && errors.Is(err, backend.ErrFenced) {
		c.fenced(rec.Partition, fence)
	}
	return err
}

// Close stops the partition readers and the metadata refresh, waits for
// them (a fetch in flight ends within Config.PollInterval, and is abandoned
// at once), and closes the connections. Records fetched but not yet
// returned by Fetch are dropped; they were not committed. Close is
// idempotent and returns nil.
func (c *Consumer) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock() // wait for a start or assign in progress; none begins after
		c.cancel()
		c.mu.Unlock()
		c.wg.Wait()
		c.conn.close()
	})
	return nil
}

// start looks the topic up and starts reading every partition, once.
func (c *Consumer) start(ctx context.Context) error {
	if c.started.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if c.started.Load() {
		return nil
	}
	// Bound the start, so that Fetch keeps its promise to return within
	// about a poll interval even when no broker answers.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout+c.cfg.PollInterval)
	defer cancel()
	parts, err := c.conn.partitions(ctx, c.topic)
	if err != nil {
		return err
	}
	if c.group {
		err = c.startGroup()
	} else {
		err = c.assign(ctx, ids(parts))
	}
	if err != nil {
		return err
	}
	c.started.Store(true)
	c.wg.Add(1)
	go c.refreshLoop()
	return nil
}

// assign starts reading the given partitions that are not read yet, each
// from its stored offset, else from the earliest: the static mode assigns
// every partition of the topic this way. (Group assignment claims each
// partition the group gives it instead; see runGeneration.) The caller
// holds c.mu.
func (c *Consumer) assign(ctx context.Context, parts []int32) error {
	var fresh []int32
	for _, p := range parts {
		if _, ok := c.readers[p]; !ok {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	loaded, err := c.store.Load(ctx, c.name, c.topic)
	if err != nil {
		return fmt.Errorf("logpipe/kafka: load offsets of topic %q: %w", c.topic, err)
	}
	stored := make(map[int32]int64, len(loaded))
	for _, pos := range loaded {
		stored[pos.Partition] = pos.Offset + 1
	}
	for _, p := range fresh {
		next, ok := stored[p]
		if !ok {
			next = kafkago.FirstOffset
		}
		c.startReader(p, next, 0)
	}
	c.assigned(fresh, nil)
	return nil
}

// startReader starts reading partition p at offset next (or
// kafkago.FirstOffset), its records committed under the fencing token fence
// (0: none). The caller holds c.mu.
func (c *Consumer) startReader(p int32, next, fence int64) {
	rctx, cancel := context.WithCancel(c.ctx)
	r := &partitionReader{c: c, partition: p, offset: next, fence: fence, ctx: rctx, cancel: cancel}
	c.readers[p] = r
	c.log.Debug("logpipe/kafka: reading partition", "partition", p, "offset", next)
	c.wg.Add(1)
	go r.run()
}

// revoke stops reading the given partitions; records of theirs that are
// fetched but not yet returned are dropped. The caller holds c.mu. (For
// group assignment; the static mode never revokes.)
func (c *Consumer) revoke(parts []int32) {
	for _, p := range parts {
		if r := c.readers[p]; r != nil {
			r.stopped.Store(true)
			r.cancel()
			delete(c.readers, p)
		}
	}
	c.assigned(nil, parts)
}

// refreshLoop picks up partitions added to the topic and reports a topic
// that has disappeared.
func (c *Consumer) refreshLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.MetadataRefresh)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		parts, err := c.conn.partitions(c.ctx, c.topic)
		var missing *MissingTopicError
		switch {
		case c.ctx.Err() != nil:
			return
		case errors.As(err, &missing):
			c.report(err)
			continue
		case err != nil:
			c.log.Warn("logpipe/kafka: metadata refresh failed", "error", err)
			continue
		}
		if c.group {
			continue // the group rebalances when partitions are added
		}
		c.mu.Lock()
		if err := c.assign(c.ctx, ids(parts)); err != nil && c.ctx.Err() == nil {
			c.log.Warn("logpipe/kafka: could not start reading new partitions; trying again at the next refresh", "error", err)
		}
		c.mu.Unlock()
	}
}

// report hands err to the next Fetch, unless one is already waiting.
func (c *Consumer) report(err error) {
	select {
	case c.errs <- err:
	default:
	}
}

func ids(parts []int) []int32 {
	out := make([]int32, len(parts))
	for i, p := range parts {
		out[i] = int32(p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
