package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/backoff"
	"github.com/logpipe-go/logpipe/internal/wait"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Defaults of the relay's options.
const (
	DefaultPollInterval = 500 * time.Millisecond
	DefaultBatchSize    = 100
	DefaultName         = "default"
	DefaultHoldTimeout  = 2 * time.Minute
)

// retryPolicy spaces the retries of a batch that could not be sent or
// deleted: from 100 ms up to 5 s.
var retryPolicy = backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true}

// Option configures a Relay.
type Option func(*relayConfig)

type relayConfig struct {
	pollInterval time.Duration
	batchSize    int
	name         string
	topics       []string
	listen       bool
	listenDSN    string
	holdTimeout  time.Duration
}

// WithPollInterval sets how long the relay waits before looking again when
// the outbox was empty or another relay of the same name was sending: the
// longest a committed record waits to be picked up, plus one batch. Default
// DefaultPollInterval (500 ms).
func WithPollInterval(d time.Duration) Option {
	return func(c *relayConfig) { c.pollInterval = d }
}

// WithBatchSize sets how many records the relay reads, sends and deletes at
// once. It is also the most duplicates a crash can cause. Default
// DefaultBatchSize (100).
func WithBatchSize(n int) Option {
	return func(c *relayConfig) { c.batchSize = n }
}

// WithName names the relay's lock row in logpipe_outbox_relay: relays of
// one name take turns, relays of different names run at once, so give them
// disjoint WithTopics. Default DefaultName.
func WithName(name string) Option {
	return func(c *relayConfig) { c.name = name }
}

// WithHoldTimeout bounds how long a relay holds its lock while it sends one
// batch. The relay gives up a send after half of it; on PostgreSQL the
// batch transaction also sets idle_in_transaction_session_timeout to it, so
// that the server ends the session of a relay whose host vanished without
// closing its connection, and another replica takes over within d rather
// than when TCP keepalive notices (hours, by default). Keep it well above
// the backend's send timeout (Kafka: SendTimeout, 10 s by default). Default
// DefaultHoldTimeout (2 minutes).
func WithHoldTimeout(d time.Duration) Option {
	return func(c *relayConfig) { c.holdTimeout = d }
}

// WithTopics limits the relay to the records of these topics. Default: every
// topic in the outbox.
func WithTopics(topics ...string) Option {
	return func(c *relayConfig) { c.topics = append([]string(nil), topics...) }
}

// Relay sends committed outbox records through Settings.Backend and deletes
// them once the broker has acknowledged them. It is a logpipe.Runner: run it
// alone, in a logpipe.MultiConsumer next to consumers, or from a consumer
// factory of a logpipe.Registry. Several relays (replicas) may run on one
// database; see the package documentation for what they guarantee.
type Relay struct {
	settings  logpipe.Settings
	cfg       relayConfig
	log       *slog.Logger
	holder    string
	listenCfg *pgx.ConnConfig // nil unless WithListen
}

var _ logpipe.Runner = (*Relay)(nil)

// NewRelay returns a relay of the outbox in s.DB that sends through
// s.Backend, logging to s.Logger. Every problem with s and opts is reported
// at once. It starts nothing: Run does the work.
func NewRelay(s logpipe.Settings, opts ...Option) (*Relay, error) {
	cfg := relayConfig{pollInterval: DefaultPollInterval, batchSize: DefaultBatchSize, name: DefaultName, holdTimeout: DefaultHoldTimeout}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	var errs []error
	if s.Backend == nil {
		errs = append(errs, errors.New("Settings.Backend is nil: set it to kafka.New(...), kinesis.New(...) or memory.NewBroker()"))
	} else if v, ok := s.Backend.(backend.Validator); ok {
		if err := v.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Settings.Backend (%s): %w", s.Backend.Name(), err))
		}
	}
	if s.DB == nil {
		errs = append(errs, errors.New("Settings.DB is nil: the relay reads the outbox from it"))
	} else if d := s.DB.Name(); d != "postgres" && d != "sqlite" {
		errs = append(errs, fmt.Errorf("Settings.DB: %w (this is %s)", ErrUnsupportedDatabase, d))
	}
	if cfg.pollInterval <= 0 {
		errs = append(errs, fmt.Errorf("WithPollInterval(%s): must be positive", cfg.pollInterval))
	}
	if cfg.holdTimeout < 2*time.Millisecond {
		errs = append(errs, fmt.Errorf("WithHoldTimeout(%s): must be positive (and well above the send timeout)", cfg.holdTimeout))
	}
	if cfg.batchSize <= 0 {
		errs = append(errs, fmt.Errorf("WithBatchSize(%d): must be positive", cfg.batchSize))
	}
	if cfg.name == "" || len(cfg.name) > 100 {
		errs = append(errs, fmt.Errorf("WithName(%q): must have 1 to 100 characters", cfg.name))
	}
	var listen *pgx.ConnConfig
	if cfg.listen {
		var err error
		if listen, err = parseListenDSN(cfg.listenDSN); err != nil {
			errs = append(errs, err)
		}
		if s.DB != nil && s.DB.Name() != "postgres" {
			errs = append(errs, fmt.Errorf("WithListen: LISTEN/NOTIFY is PostgreSQL's, and Settings.DB is %s", s.DB.Name()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("logpipe/outbox: invalid relay settings:\n%w", err)
	}
	host, _ := os.Hostname()
	return &Relay{
		settings:  s,
		cfg:       cfg,
		log:       cmp.Or(s.Logger, slog.Default()).With("relay", cfg.name),
		holder:    host + ":" + strconv.Itoa(os.Getpid()),
		listenCfg: listen,
	}, nil
}

// errBusy says another relay of the same name holds the lock.
var errBusy = errors.New("another relay is sending")

// Run sends committed records until ctx ends, then returns nil. It opens the
// backend's producer and closes it on return. A batch the broker or the
// database refuses is logged (warning) and tried again, with growing pauses,
// until it goes through: a record is never skipped. Run returns an error
// only when it cannot start (the tables are missing, the producer cannot be
// opened) or when closing the producer fails.
func (r *Relay) Run(ctx context.Context) (err error) {
	db := r.settings.DB.WithContext(ctx)
	err = db.Exec("INSERT INTO "+offsetstore.OutboxRelayTable+" (name) VALUES (?) ON CONFLICT (name) DO NOTHING", r.cfg.name).Error
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("logpipe/outbox: relay %q: register in %s (has offsetstore.Migrate run?): %w", r.cfg.name, offsetstore.OutboxRelayTable, err)
	}
	p, err := r.settings.Backend.NewProducer(ctx, backend.ProducerOptions{Logger: r.log})
	if err == nil && p == nil {
		err = errors.New("the backend returned no producer")
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("logpipe/outbox: relay %q: open %s producer: %w", r.cfg.name, r.settings.Backend.Name(), err)
	}
	defer func() {
		if cerr := p.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("logpipe/outbox: relay %q: close producer: %w", r.cfg.name, cerr))
		}
	}()
	var wake chan struct{} // nil, never ready, without WithListen
	if r.listenCfg != nil {
		lctx, cancel := context.WithCancel(ctx)
		wake = make(chan struct{}, 1)
		done := make(chan struct{})
		go func() { defer close(done); r.listen(lctx, r.listenCfg, wake) }()
		defer func() { cancel(); <-done }()
	}
	idle := func() {
		t := time.NewTimer(r.cfg.pollInterval)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-wake:
		}
	}
	retry := backoff.Backoff{Policy: retryPolicy}
	for ctx.Err() == nil {
		n, err := r.relayBatch(ctx, p)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errBusy):
			retry.Reset()
			idle()
		case err != nil:
			d := retry.Next()
			r.log.Warn("logpipe/outbox: batch not sent; trying again", "error", err, "retry_in", d, "retries", retry.Retries())
			_ = wait.Sleep(ctx, d)
		default:
			retry.Reset()
			if n < r.cfg.batchSize {
				idle()
			}
		}
	}
	return nil
}

// row is a row of the outbox.
type row struct {
	ID      int64
	Topic   string
	MsgKey  []byte
	Seq     *int64
	Value   []byte
	Headers *string
}

// relayBatch sends and deletes the oldest records, at most one batch, in a
// transaction that holds the relay's lock, and returns how many it sent.
func (r *Relay) relayBatch(ctx context.Context, p backend.Producer) (n int, err error) {
	tx := r.settings.DB.WithContext(ctx).Begin()
	if tx.Error != nil {
		return 0, fmt.Errorf("begin: %w", tx.Error)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	now := time.Now().UTC()
	if tx.Name() == "postgres" {
		var names []string
		if err := tx.Raw("SELECT name FROM "+offsetstore.OutboxRelayTable+" WHERE name = ? FOR UPDATE SKIP LOCKED", r.cfg.name).Scan(&names).Error; err != nil {
			return 0, fmt.Errorf("lock relay %q: %w", r.cfg.name, err)
		}
		if len(names) == 0 {
			return 0, errBusy
		}
		// SET takes no parameters; the value is an integer of ours.
		if err := tx.Exec(fmt.Sprintf("SET LOCAL idle_in_transaction_session_timeout = %d", r.cfg.holdTimeout.Milliseconds())).Error; err != nil {
			return 0, fmt.Errorf("set the hold timeout: %w", err)
		}
	}
	markHolder := func() error {
		if err := tx.Exec("UPDATE "+offsetstore.OutboxRelayTable+" SET holder = ?, updated_at = ? WHERE name = ?", r.holder, now, r.cfg.name).Error; err != nil {
			return fmt.Errorf("lock relay %q: %w", r.cfg.name, err)
		}
		return nil
	}
	if tx.Name() != "postgres" {
		// On SQLite this first write takes the database's write lock,
		// before anything is read.
		if err := markHolder(); err != nil {
			return 0, err
		}
	}
	q := tx.Table(offsetstore.OutboxTable).Select("id, topic, msg_key, seq, value, headers").Order("id").Limit(r.cfg.batchSize)
	if len(r.cfg.topics) > 0 {
		q = q.Where("topic IN ?", r.cfg.topics)
	}
	var rows []row
	if err := q.Scan(&rows).Error; err != nil {
		return 0, fmt.Errorf("read %s: %w", offsetstore.OutboxTable, err)
	}
	if len(rows) == 0 {
		return 0, nil // nothing to commit: the deferred rollback releases the lock
	}
	msgs := make([]backend.Message, len(rows))
	ids := make([]int64, len(rows))
	for i, rw := range rows {
		m := backend.Message{Topic: rw.Topic, Key: rw.MsgKey, Value: rw.Value}
		if rw.Headers != nil {
			if m.Headers, err = decodeHeaders(*rw.Headers); err != nil {
				return 0, fmt.Errorf("record %d (topic %s, key %q): decode headers: %w", rw.ID, rw.Topic, rw.MsgKey, err)
			}
		}
		if rw.Seq != nil {
			m.Headers = append(m.Headers, backend.Header{Key: SeqHeader, Value: strconv.AppendInt(nil, *rw.Seq, 10)})
		}
		msgs[i], ids[i] = m, rw.ID
	}
	sendCtx, cancel := context.WithTimeout(ctx, r.cfg.holdTimeout/2)
	err = send(sendCtx, p, msgs)
	cancel()
	if err != nil {
		return 0, &SendError{FirstID: ids[0], LastID: ids[len(ids)-1], Records: len(ids), Topic: rows[0].Topic, Key: rows[0].MsgKey, Err: err}
	}
	if tx.Name() == "postgres" {
		// Who sent last, for whoever looks; written only when something
		// was sent, so an idle relay writes nothing.
		if err := markHolder(); err != nil {
			return 0, err
		}
	}
	if err := tx.Exec("DELETE FROM "+offsetstore.OutboxTable+" WHERE id IN ?", ids).Error; err != nil {
		return 0, fmt.Errorf("delete %d sent records (ids %d to %d; they will be sent again): %w", len(ids), ids[0], ids[len(ids)-1], err)
	}
	if err := tx.Commit().Error; err != nil {
		return 0, fmt.Errorf("commit the deletion of %d sent records (ids %d to %d; they will be sent again): %w", len(ids), ids[0], ids[len(ids)-1], err)
	}
	committed = true
	return len(rows), nil
}

// send writes msgs through the backend's batched path when it has one.
func send(ctx context.Context, p backend.Producer, msgs []backend.Message) error {
	if bp, ok := p.(backend.BatchProducer); ok {
		_, err := bp.SendBatch(ctx, msgs)
		return err
	}
	for _, m := range msgs {
		if _, err := p.Send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// SendError is what the relay logs when the backend refused a batch: which
// records (ids FirstID to LastID in logpipe_outbox, the first one's topic
// and key), and why. The records stay in the outbox and are sent again.
type SendError struct {
	FirstID, LastID int64
	Records         int
	Topic           string
	Key             []byte
	Err             error
}

// Error names the records and the cause.
func (e *SendError) Error() string {
	return fmt.Sprintf("logpipe/outbox: send %d records (ids %d to %d, first to %s key %q): %v", e.Records, e.FirstID, e.LastID, e.Topic, e.Key, e.Err)
}

// Unwrap returns the backend's error.
func (e *SendError) Unwrap() error { return e.Err }

// Pending returns how many records wait in db's outbox, of the given topics
// or of all when none are given: the relay's backlog, for monitoring.
func Pending(ctx context.Context, db *gorm.DB, topics ...string) (int64, error) {
	q := db.WithContext(ctx).Table(offsetstore.OutboxTable)
	if len(topics) > 0 {
		q = q.Where("topic IN ?", topics)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return 0, fmt.Errorf("logpipe/outbox: count %s: %w", offsetstore.OutboxTable, err)
	}
	return n, nil
}
