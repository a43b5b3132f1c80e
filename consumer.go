package logpipe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/clip"
	"github.com/logpipe-go/logpipe/internal/wait"
	"github.com/logpipe-go/logpipe/offsetstore"
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
	// openKeys are the keys of this topic's dead letters that no later
	// record has superseded; used by Run's goroutine only.
	openKeys map[string]bool
	obs      *consumerObs // hooks and lag (observe.go, lag.go)

	// open opens the backend consumer; tests replace it to inject faults.
	open func(ctx context.Context) (backend.Consumer, error)
}

type consumerConfig struct {
	idleTimeout   time.Duration
	throwErrors   bool
	txSize        int
	limit         int
	retry         RetryPolicy
	noDeadLetters bool
	deadLetters   bool // decided in NewConsumer
	noStandby     bool
	name          string
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

// WithoutDeadLetters turns dead letters off, for the original's behaviour:
// records that cannot be applied are logged and skipped (their content is
// then only in the log), and a save that keeps failing stops the consumer.
// By default, with a database, such records are written to the
// logpipe_deadletter table in the transaction that commits their offset.
func WithoutDeadLetters() ConsumerOption {
	return func(c *consumerConfig) { c.noDeadLetters = true }
}

// WithoutStandby lets the consumer run beside another consumer of the same
// topic on the same PostgreSQL database instead of waiting for it to stop
// (see Run). They are still fenced: one stops with offsetstore.ErrOffsetMoved
// at its first commit after the other's.
func WithoutStandby() ConsumerOption {
	return func(c *consumerConfig) { c.noStandby = true }
}

// WithName names the consumer, so that two consumers of one topic sharing
// a database (an indexer and a billing service, or two consumers in one
// process) keep separate positions, dead letters and standby locks. A named
// consumer's positions live in logpipe's logpipe_consumer_offset table
// (created by offsetstore.Migrate); the unnamed default's stay in
// django-logpipe's tables, which Django reads and writes too. With Kafka
// group assignment, a named consumer joins a group of its own
// (kafka.Config.GroupID + "." + name). Default "": unnamed.
func WithName(name string) ConsumerOption {
	return func(c *consumerConfig) { c.name = name }
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
	cfg.retry = cfg.retry.withDefaults()
	cfg.deadLetters = !cfg.noDeadLetters && s.DB != nil
	if cfg.limit < 0 {
		errs = append(errs, fmt.Errorf("logpipe: WithLimit(%d) is negative", cfg.limit))
	}
	if cfg.txSize < 1 {
		errs = append(errs, fmt.Errorf("logpipe: WithTransactionSize(%d) must be at least 1", cfg.txSize))
	}
	if len(cfg.name) > 200 {
		errs = append(errs, fmt.Errorf("logpipe: WithName(%.20q...) is longer than 200 bytes, the size of the tables' consumer column", cfg.name))
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
	if cfg.name != "" {
		c.log = c.log.With("consumer", cfg.name)
	}
	c.disp.Store(&dispatcher{types: map[string]map[int]reflect.Type{}, ignored: map[string]bool{}})
	c.open = func(ctx context.Context) (backend.Consumer, error) { return openConsumer(ctx, s, topic, cfg.name) }
	return c, nil
}

// Topic returns the topic or stream the consumer reads.
func (c *Consumer) Topic() string { return c.topic }

// Name returns the consumer's name (WithName); "" for the unnamed default.
func (c *Consumer) Name() string { return c.cfg.name }

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
		if err := checkOwnSave(t); err != nil {
			errs = append(errs, err)
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
// the limit is reached (then it returns nil), or an error stops it: a save
// that keeps failing without dead letters (ErrSave), transient failures that
// outlast the RetryPolicy, a fenced offset commit
// (offsetstore.ErrOffsetMoved), or, with WithThrowErrors, any record error.
// Errors about a record are *RecordError. Nothing is committed for the
// record that stopped it.
//
// On PostgreSQL with offsets in the database, Run first takes an advisory
// lock for the topic, held on a connection of its own while it runs: a
// second consumer of the topic (another replica) waits as a standby and
// takes over within a second of the first one stopping or dying. See
// WithoutStandby.
//
// With a backend that shares the partitions out among processes (Kafka's
// group assignment, kafka.Config.GroupAssignment) no standby lock is taken:
// the replicas run side by side, and a commit that finds its partition
// given to another process (backend.ErrFenced) rolls back, its records
// dropped, and Run goes on.
//
// After ctx ends, Run returns within about the backend's poll interval plus
// a second; a transaction in progress is rolled back or committed whole.
func (c *Consumer) Run(ctx context.Context) (err error) {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	release, err := c.standby(ctx)
	if err != nil || release == nil {
		return err
	}
	defer release()
	if c.cfg.deadLetters {
		if !offsetstore.HasDeadLetterTable(ctx, c.settings.DB) {
			return offsetstore.ErrNoDeadLetterTable
		}
		if c.openKeys, err = offsetstore.OpenDeadLetterKeys(ctx, c.settings.DB, c.cfg.name, c.topic); err != nil {
			return err
		}
	}
	st := &runState{last: time.Now(), left: c.cfg.limit}
	b := c.cfg.retry.backoff()
	var failingSince time.Time
	for {
		err := c.runOnce(ctx, st)
		if err == nil || ctx.Err() != nil && isContextErr(err) {
			return nil
		}
		if !IsTransient(err) || c.cfg.retry.MaxElapsed < 0 {
			return err
		}
		if st.progressed || failingSince.IsZero() {
			failingSince, st.progressed = time.Now(), false
			b.Reset()
		}
		if time.Since(failingSince) > c.cfg.retry.MaxElapsed {
			return fmt.Errorf("logpipe: gave up after %s of transient failures: %w", c.cfg.retry.MaxElapsed, err)
		}
		c.log.Warn("logpipe: transient failure; reopening from the stored positions", "retry", b.Retries()+1, "error", err)
		if b.Wait(ctx) != nil {
			return nil
		}
	}
}

// runState is what Run keeps across the reopenings of its backend consumer.
type runState struct {
	last       time.Time // when records last arrived
	left       int       // records left before the limit
	progressed bool      // a group was applied since the last failure
}

// isContextErr reports whether err is what a cancelled context makes a
// database or backend call return.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "interrupted")
}

// runOnce opens the backend consumer and reads and applies records until a
// clean stop (nil) or an error.
func (c *Consumer) runOnce(ctx context.Context, st *runState) (err error) {
	bc, err := c.open(ctx)
	if err != nil {
		return fmt.Errorf("logpipe: open consumer of %s: %w", c.topic, err)
	}
	defer func() {
		if cerr := bc.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("logpipe: close consumer of %s: %w", c.topic, cerr))
		}
	}()
	c.obs.begin()
	idleAware, _ := bc.(backend.IdleAware)
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
			if c.cfg.idleTimeout > 0 && time.Since(st.last) >= c.cfg.idleTimeout && (idleAware == nil || idleAware.Idle()) {
				c.log.Debug("logpipe: consumer idle, stopping", "idle_timeout", c.cfg.idleTimeout)
				return nil
			}
			continue
		}
		if c.cfg.limit > 0 && len(recs) > st.left {
			recs = recs[:st.left]
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
					return err
				}
				if p, lost := lostPartition(err); lost && len(withoutPartition(recs, p)) < len(recs) {
					// A shard's lease was taken over: rolled back; the rest
					// of the group is applied without that shard's records,
					// which its new owner reads again.
					c.log.Info("logpipe: partition or shard taken over by another consumer; its fetched records are left to it", "position", p.String())
					recs = withoutPartition(recs, p)
					continue
				}
				if !errors.Is(err, backend.ErrFenced) {
					return err
				}
				// A Kafka partition was given to another process: the
				// transaction rolled back; the backend hands out again,
				// from the stored positions, what it still reads.
				c.log.Warn("logpipe: commit fenced: a partition moved to another process; records dropped, to be read again by their owner", "error", err)
				break
			}
			st.progressed = true
			recs = recs[n:]
			st.left -= n
		}
		if c.cfg.limit > 0 && st.left == 0 {
			c.log.Debug("logpipe: consumer reached its limit, stopping", "limit", c.cfg.limit)
			return nil
		}
		st.last = time.Now()
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
		"position", re.String(), "key", clip.Text(re.Key, clip.Wire), "type", clip.Text(re.Type, clip.Wire), "error", err)
}
