package logpipe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// Consumer reads one topic or stream and applies each record through the
// serializer registered for its type and version, as django-logpipe's
// consumer does (README, "Receiving messages"), with bad records skipped
// instead of crashing.
//
// Register serializers and ignored types before calling Run. A Consumer runs
// one Run at a time; after Run returns it may be run again, resuming from the
// stored offsets.
type Consumer struct {
	settings Settings
	topic    string
	cfg      consumerConfig
	log      *slog.Logger

	mu      sync.Mutex                 // serializes Register and Ignore
	disp    atomic.Pointer[dispatcher] // what Run uses; replaced, never changed
	running atomic.Bool
	obs     *consumerObs // hooks and lag (observe.go, lag.go)

	// open opens the backend consumer; tests replace it to inject faults.
	open func(ctx context.Context) (backend.Consumer, error)
}

type consumerConfig struct {
	idleTimeout time.Duration
	throwErrors bool
	txSize      int
	limit       int
}

// ConsumerOption configures a Consumer.
type ConsumerOption func(*consumerConfig)

// WithIdleTimeout makes Run return nil once no record has arrived for d
// (for Kinesis: once, in addition, every shard is read to its tip), like the
// original's consumer_timeout_ms. By default Run waits for records until its
// context ends.
func WithIdleTimeout(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) { c.idleTimeout = d }
}

// WithThrowErrors makes Run stop and return the first record error (invalid
// message, ignored, unknown type or version, validation) without committing
// that record, like the original's throw_errors=True. By default such
// records are logged, committed and skipped, and only a failing save stops
// the consumer.
func WithThrowErrors() ConsumerOption {
	return func(c *consumerConfig) { c.throwErrors = true }
}

// WithTransactionSize applies up to n consecutive records of one fetch in
// one database transaction, committing their offsets with them: fewer
// commits, more throughput. A failing save rolls back the whole group, which
// is then applied again after a restart. Default 1.
func WithTransactionSize(n int) ConsumerOption {
	return func(c *consumerConfig) { c.txSize = n }
}

// WithLimit makes Run return nil once n records have been taken through the
// apply path (applied, or skipped as bad), like the original's iter_limit:
// exactly n are committed. Each Run counts from zero. By default there is no
// limit.
func WithLimit(n int) ConsumerOption {
	return func(c *consumerConfig) { c.limit = n }
}

// NewConsumer returns a consumer of topic (a Kafka topic or Kinesis stream)
// with the backend, database and offset store of s. It does not connect:
// Run does.
func NewConsumer(s Settings, topic string, opts ...ConsumerOption) (*Consumer, error) {
	s = s.withDefaults()
	cfg := consumerConfig{txSize: 1}
	for _, o := range opts {
		o(&cfg)
	}
	err := s.validate(true)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if topic == "" {
		errs = append(errs, errors.New("logpipe: NewConsumer needs a topic"))
	}
	if cfg.idleTimeout < 0 {
		errs = append(errs, fmt.Errorf("logpipe: WithIdleTimeout(%s) is negative", cfg.idleTimeout))
	}
	if cfg.limit < 0 {
		errs = append(errs, fmt.Errorf("logpipe: WithLimit(%d) is negative", cfg.limit))
	}
	if cfg.txSize < 1 {
		errs = append(errs, fmt.Errorf("logpipe: WithTransactionSize(%d) must be at least 1", cfg.txSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &Consumer{
		settings: s,
		topic:    topic,
		cfg:      cfg,
		log:      s.Logger.With("topic", topic),
		obs:      newConsumerObs(topic, s.Hooks, cfg.throwErrors),
	}
	c.disp.Store(&dispatcher{types: map[string]map[int]reflect.Type{}, ignored: map[string]bool{}})
	c.open = func(ctx context.Context) (backend.Consumer, error) { return openConsumer(ctx, s, topic) }
	return c, nil
}

// Topic returns the topic or stream the consumer reads.
func (c *Consumer) Topic() string { return c.topic }

// Register adds serializers: several types, and several versions of one
// type, may share a topic. Each must be a pointer to a struct, such as
// &PersonV1{}; a new value of that struct is decoded for each message. A
// second serializer for the same type and version is an error. Register
// may be called while the consumer runs: it applies from the next record.
func (c *Consumer) Register(serializers ...Serializer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.disp.Load().clone()
	defer c.disp.Store(d)
	var errs []error
	for _, s := range serializers {
		t := reflect.TypeOf(s)
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			errs = append(errs, fmt.Errorf("logpipe: Register(%T): a serializer must be a pointer to a struct", s))
			continue
		}
		mt, v := s.MessageType(), s.Version()
		if d.types[mt] == nil {
			d.types[mt] = map[int]reflect.Type{}
		}
		if prev, dup := d.types[mt][v]; dup {
			errs = append(errs, fmt.Errorf("logpipe: Register(%T): %s already handles type %q version %d", s, prev, mt, v))
			continue
		}
		d.types[mt][v] = t.Elem()
	}
	return errors.Join(errs...)
}

// Ignore makes the consumer skip messages of the given types silently
// (logged at debug level, committed), like add_ignored_message_type. It may
// be called while the consumer runs: it applies from the next record.
func (c *Consumer) Ignore(types ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.disp.Load().clone()
	for _, t := range types {
		d.ignored[t] = true
	}
	c.disp.Store(d)
}

// ErrAlreadyRunning is returned by Run when the consumer is running already.
var ErrAlreadyRunning = errors.New("logpipe: consumer is already running")

// Run reads and applies records until ctx ends, the idle timeout passes or
// the limit is reached (then it returns nil), or a record stops it: a failing save (ErrSave),
// or, with WithThrowErrors, any record error. Errors about a record are
// *RecordError. Nothing is committed for the record that stopped it.
func (c *Consumer) Run(ctx context.Context) (err error) {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	bc, err := c.open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("logpipe: open consumer of %s: %w", c.topic, err)
	}
	defer func() {
		if cerr := bc.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("logpipe: close consumer of %s: %w", c.topic, cerr))
		}
	}()
	c.obs.begin()
	idleAware, _ := bc.(backend.IdleAware)
	last := time.Now()
	left := c.cfg.limit
	for {
		recs, err := bc.Fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("logpipe: fetch from %s: %w", c.topic, err)
		}
		c.obs.fetched(ctx, bc, recs)
		if len(recs) == 0 {
			if c.cfg.idleTimeout > 0 && time.Since(last) >= c.cfg.idleTimeout && (idleAware == nil || idleAware.Idle()) {
				c.log.Debug("logpipe: consumer idle, stopping", "idle_timeout", c.cfg.idleTimeout)
				return nil
			}
			continue
		}
		if c.cfg.limit > 0 && len(recs) > left {
			recs = recs[:left]
		}
		for len(recs) > 0 {
			n := min(len(recs), c.cfg.txSize)
			if err := c.waitLag(ctx, recs[:n]); err != nil {
				return nil
			}
			err := c.applyGroup(ctx, bc, c.disp.Load(), recs[:n])
			c.obs.groupDone(ctx, recs[:n], err)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			recs = recs[n:]
			left -= n
		}
		if c.cfg.limit > 0 && left == 0 {
			c.log.Debug("logpipe: consumer reached its limit, stopping", "limit", c.cfg.limit)
			return nil
		}
		last = time.Now()
	}
}

// waitLag holds until every record of recs is at least MinMessageLag old.
// (A group may span partitions, so the newest is not always the last.)
func (c *Consumer) waitLag(ctx context.Context, recs []backend.Record) error {
	lag := c.settings.MinMessageLag
	if lag <= 0 {
		return nil
	}
	var newest time.Time
	for _, r := range recs {
		if r.Timestamp.After(newest) {
			newest = r.Timestamp
		}
	}
	if newest.IsZero() {
		return nil
	}
	return wait.Sleep(ctx, time.Until(newest.Add(lag)))
}

// applyGroup applies recs and commits their offsets in one transaction
// (offsets kept outside the database are committed after it).
func (c *Consumer) applyGroup(ctx context.Context, bc backend.Consumer, d *dispatcher, recs []backend.Record) error {
	outside := false
	if o, ok := bc.(backend.OutsideTransaction); ok {
		outside = o.CommitsOutsideTransaction()
	}
	work := func(tx *gorm.DB) error {
		for _, rec := range recs {
			rctx, start := c.obs.beforeApply(ctx, &rec)
			err := d.apply(rctx, tx, rec)
			c.obs.afterApply(rctx, &rec, start, err)
			if err != nil {
				if errors.Is(err, ErrSave) || c.cfg.throwErrors {
					return err
				}
				c.logSkipped(err)
			}
		}
		if outside {
			return nil
		}
		for _, rec := range lastPerPartition(recs) {
			if err := bc.Commit(ctx, tx, rec); err != nil {
				return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: fmt.Errorf("commit offset: %w", err)}
			}
		}
		return nil
	}
	var err error
	if db := c.settings.DB; db != nil {
		err = db.WithContext(ctx).Transaction(work)
	} else {
		err = work(nil)
	}
	if err != nil || !outside {
		return err
	}
	// The records are saved: commit their offsets even when ctx was
	// cancelled meanwhile, so that a clean shutdown does not apply them
	// again on the next run.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outsideCommitTimeout)
	defer cancel()
	for _, rec := range lastPerPartition(recs) {
		if err := bc.Commit(cctx, nil, rec); err != nil {
			return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: fmt.Errorf("commit offset to the broker (the record was saved and will be applied again after a restart): %w", err)}
		}
	}
	return nil
}

// outsideCommitTimeout bounds the broker commit that follows a saved group.
const outsideCommitTimeout = 10 * time.Second

func (c *Consumer) logSkipped(err error) {
	var re *RecordError
	if !errors.As(err, &re) {
		c.log.Warn("logpipe: skipped record", "error", err)
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, ErrIgnoredType) {
		level = slog.LevelDebug
	}
	c.log.Log(context.Background(), level, "logpipe: skipped record",
		"position", re.String(), "key", string(re.Key), "type", re.Type, "error", err)
}

// lastPerPartition returns, in order of first appearance, the last record of
// each partition or shard in recs: committing it covers the earlier ones.
func lastPerPartition(recs []backend.Record) []backend.Record {
	if len(recs) == 1 {
		return recs
	}
	type part struct {
		p     int32
		shard string
	}
	idx := map[part]int{}
	var out []backend.Record
	for _, r := range recs {
		k := part{r.Partition, r.Shard}
		if i, ok := idx[k]; ok {
			out[i] = r
			continue
		}
		idx[k] = len(out)
		out = append(out, r)
	}
	return out
}
