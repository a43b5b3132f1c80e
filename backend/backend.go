// Package backend defines what a transport (Kafka, Kinesis, the in-memory
// broker, or one of your own) implements for logpipe, the way
// database/sql/driver defines what a database driver implements. Users do
// not call these interfaces: they put a Backend value, built by the backend's
// own package (kafka.New, kinesis.New, memory.NewBroker), in
// logpipe.Settings, and hold *logpipe.Producer and *logpipe.Consumer, which
// drive it. The root package imports no backend, so a program links only the
// backends it imports.
//
// A backend has two halves: a Producer that writes one record (or a batch)
// and reports where it went, and a Consumer that fetches records from every
// partition (Kafka) or shard (Kinesis) of one topic or stream, resuming from
// stored positions, and commits a record's position once it has been
// applied. Optional capabilities are found by type assertion: BatchProducer,
// OutsideTransaction, IdleAware, BrokerOffsets, Validator, LagReporter,
// SharedAssignment.
//
// The conformance suite in package backendtest pins down the behaviour every
// backend shares; a new backend is tested by calling backendtest.Run.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"gorm.io/gorm"
)

// ErrClosed is returned by a Producer's or Consumer's methods after Close.
var ErrClosed = errors.New("logpipe/backend: closed")

// ErrMissingTopic is matched (errors.Is) by the error a backend returns when
// the topic or stream does not exist. Backends never create topics; each
// returns its own typed error (naming the topic and where it looked) that
// matches this.
var ErrMissingTopic = errors.New("logpipe/backend: topic or stream does not exist")

// ErrFenced is matched by the error of a Consumer's Commit when the
// partition or shard is no longer this consumer's: it was given to another
// process (Kafka group assignment, Kinesis leases) after the record was read.
// The caller rolls the record's transaction back and drops the records it
// holds; the Consumer hands out again, from the stored positions, every
// record not committed, of the partitions it still reads.
var ErrFenced = errors.New("logpipe/backend: the partition or shard is no longer this consumer's")

// ErrUnsupported is matched by the error a backend or an offset store
// returns for something it cannot do (broker-side offsets on Kinesis, say).
var ErrUnsupported = errors.New("logpipe/backend: not supported")

// Backend opens producers and consumers of one transport. A backend package
// returns one from its constructor (kafka.New(cfg), kinesis.New(cfg),
// memory.NewBroker()), to be set as logpipe.Settings.Backend. It is safe for
// concurrent use and holds no connection itself: each producer and consumer
// opens its own.
type Backend interface {
	// Name is a short name for logs and errors: "kafka", "kinesis",
	// "memory".
	Name() string
	// NewProducer opens a producer. It may load configuration (Kinesis
	// loads the AWS configuration) but need not connect.
	NewProducer(ctx context.Context, opts ProducerOptions) (Producer, error)
	// NewConsumer opens a consumer of opts.Topic.
	NewConsumer(ctx context.Context, opts ConsumerOptions) (Consumer, error)
}

// Validator is implemented by a Backend that can check its configuration
// without contacting anything. logpipe.NewProducer and NewConsumer call it
// and report its problems with the rest of the settings.
type Validator interface {
	Validate() error
}

// BrokerOffsets is implemented by a Backend that can keep consumer
// positions in the broker (Kafka's consumer groups). BrokerOffsets returns
// nil when the backend is configured for it, else an error saying what is
// missing. A Backend without it cannot: ConsumerOptions.BrokerOffsets is
// then refused with an error matching ErrUnsupported.
type BrokerOffsets interface {
	BrokerOffsets() error
}

// ProducerOptions says how a producer is opened.
type ProducerOptions struct {
	// Logger receives the producer's logs (retries, at warning level).
	// Never nil: logpipe passes Settings.Logger or a discarding logger.
	Logger *slog.Logger
	// OnRetry, when not nil, is called each time a send is tried again,
	// from whichever goroutine retries it. logpipe sets it when a hook
	// listens; nil otherwise, so a backend builds no Retry then.
	OnRetry func(Retry)
}

// ConsumerOptions says what a consumer reads and where it keeps positions.
type ConsumerOptions struct {
	// Topic is the topic or stream to read, every partition or shard of
	// it. Required.
	Topic string
	// Name names the consumer, so that two consumers of one topic sharing a
	// database keep separate positions; "" is the unnamed default, whose
	// positions live in the tables django-logpipe shares.
	Name string
	// Offsets keeps the positions. When nil and BrokerOffsets is false,
	// the backend keeps them in DB, in its django-logpipe table
	// (logpipe_kafkaoffset or logpipe_kinesisoffset).
	Offsets OffsetStore
	// DB is the application's database, for the backend's own offsets
	// table when Offsets is nil.
	DB *gorm.DB
	// BrokerOffsets keeps positions in the broker instead (Kafka consumer
	// groups): Commit is then called with a nil tx after the record's
	// transaction commits. Only backends implementing BrokerOffsets can.
	BrokerOffsets bool
	// Logger receives the consumer's logs. Never nil when logpipe opens
	// the consumer.
	Logger *slog.Logger
	// OnAssign, when not nil, is called when the consumer starts or stops
	// reading partitions or shards (see Assignment), from any goroutine.
	// logpipe sets it when a hook listens.
	OnAssign func(Assignment)
}

// Store returns the offset store a backend whose table is made by table
// uses for o: o.Offsets when set, else table(o.DB). It fails when neither
// is set (and BrokerOffsets is not asked for).
func (o ConsumerOptions) Store(table func(*gorm.DB) OffsetStore) (OffsetStore, error) {
	switch {
	case o.Offsets != nil:
		return o.Offsets, nil
	case o.DB != nil:
		return table(o.DB), nil
	}
	return nil, errors.New("logpipe/backend: ConsumerOptions has neither Offsets nor DB: say where positions are kept")
}

// Position says where a record is: a Kafka (or in-memory) topic, partition
// and offset, or a Kinesis stream, shard and sequence number.
type Position struct {
	// Topic is the Kafka topic or the Kinesis stream name.
	Topic string
	// Partition is the Kafka partition. It is zero for Kinesis.
	Partition int32
	// Offset is the Kafka offset. It is zero for Kinesis.
	Offset int64
	// Shard is the Kinesis shard id; empty for Kafka.
	Shard string
	// SequenceNumber is the Kinesis sequence number; empty for Kafka.
	SequenceNumber string
}

// String renders the position as "topic/partition@offset" for Kafka and
// "stream/shard@sequence" for Kinesis, for logs and error messages.
func (p Position) String() string {
	if p.Shard != "" {
		return fmt.Sprintf("%s/%s@%s", p.Topic, p.Shard, p.SequenceNumber)
	}
	return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset)
}

// Header is a record header: a key and a value. Kafka carries headers;
// Kinesis has none (its backend drops them). django-logpipe ignores them, so
// headers never break interoperation.
type Header struct {
	Key   string
	Value []byte
}

// Message is one record to send.
type Message struct {
	// Topic is the Kafka topic or Kinesis stream.
	Topic string
	// Key is the record key (Kafka) or partition key (Kinesis). Empty means
	// no key: Kafka may use any partition; Kinesis backends substitute a
	// random partition key, since Kinesis requires one.
	Key []byte
	// Value is the rendered envelope, "json:{...}" or "msgpack:...".
	Value []byte
	// Headers travel with the record where the transport has them.
	Headers []Header
}

// Record is one record read from a topic or stream.
type Record struct {
	Position
	Key       []byte
	Value     []byte
	Timestamp time.Time
	// Headers are the record's headers (nil on Kinesis).
	Headers []Header
}

// Producer sends records. Implementations are safe for concurrent use.
type Producer interface {
	// Send writes one record and returns once the broker has acknowledged
	// it, or the context ends. After Close it returns ErrClosed. Its error
	// says what became of the record: it matches ErrNotWritten when the
	// record is certainly not on the topic, ErrMaybeWritten when it may be
	// (OutcomeOf reads it).
	Send(ctx context.Context, m Message) (Position, error)
	// Close flushes anything pending and releases the producer. It is
	// idempotent.
	Close() error
}

// BatchProducer is implemented by producers with a faster path for many
// records at once. Records with the same key keep their order. The returned
// positions are in the order of msgs. On error, the positions of the
// records written are filled in (zero for the others), and the error is or
// wraps a *BatchError saying, for each record, whether it was written, not
// written, or may have been.
type BatchProducer interface {
	SendBatch(ctx context.Context, msgs []Message) ([]Position, error)
}

// Consumer reads one topic or stream. A Consumer is used by one goroutine at
// a time; Close may be called from any.
type Consumer interface {
	// Fetch returns the next records, in order within each partition or
	// shard. It returns an empty slice (and nil error) when nothing arrived
	// within the backend's poll interval, so that the caller can check its
	// idle timeout; it never blocks longer than about a second past that.
	// It returns ctx.Err() when the context ends, and nothing it read is
	// lost then: the next Fetch returns it. After Close it returns
	// ErrClosed.
	Fetch(ctx context.Context) ([]Record, error)
	// Commit records that rec has been applied, so that reading resumes
	// after it. When tx is not nil the position is written in that
	// database transaction, together with whatever the application saved,
	// and rolls back with it.
	Commit(ctx context.Context, tx *gorm.DB, rec Record) error
	// Close releases the consumer. It is idempotent.
	Close() error
}

// OutsideTransaction is implemented by a Consumer whose positions are not
// kept in the application's database (Kafka consumer-group offsets). The
// caller then calls Commit with a nil tx after the record's transaction has
// committed, which makes delivery at-least-once rather than exactly-once.
type OutsideTransaction interface {
	CommitsOutsideTransaction() bool
}

// IdleAware is implemented by a Consumer that decides for itself when it is
// idle (Kinesis: every shard at its tip). Idle reports whether the most
// recent empty Fetch found the stream fully read.
type IdleAware interface {
	Idle() bool
}

// Checkpoint is what an OffsetStore commits: the last record applied of a
// partition or shard, for which consumer, under which fencing token.
type Checkpoint struct {
	Position
	// Consumer is the consumer's name (ConsumerOptions.Name); "" for the
	// unnamed default.
	Consumer string
	// Fence is a fencing token: the group generation or lease epoch under
	// which the record was read, so that a store can refuse the commit of
	// a consumer that lost the partition meanwhile. 0 means none.
	Fence int64
}

// OffsetStore keeps, per partition or shard of a topic, the last record
// applied. offsetstore.Kafka (logpipe_kafkaoffset) and offsetstore.Kinesis
// (logpipe_kinesisoffset) implement it.
type OffsetStore interface {
	// Load returns the stored position of each partition or shard of
	// topic that has one, for the named consumer: the last record applied
	// (for Kafka, Offset is that record's offset, so reading resumes at
	// Offset+1; -1 means resume at 0).
	Load(ctx context.Context, consumer, topic string) ([]Position, error)
	// Commit stores c as the last record applied of its partition or
	// shard, through tx when it is not nil so that it commits or rolls
	// back with the application's writes.
	Commit(ctx context.Context, tx *gorm.DB, c Checkpoint) error
}

// ErrNotWritten is matched (errors.Is) by the error of a record that the
// backend certainly did not write: the broker refused the request before
// writing anything (no leader, leader moved, connection refused, throttled),
// the record was never sent (its context ended while it was queued, an
// earlier record to its partition failed, the producer was closed), or it
// was invalid. Sending it again cannot duplicate it.
var ErrNotWritten = errors.New("logpipe/backend: not written")

// ErrMaybeWritten is matched (errors.Is) by the error of a record whose
// outcome is unknown: the request reached the broker (or may have) and no
// answer came (a timeout, a connection lost after the request was sent, a
// server error after the write). The record may be on the topic; sending it
// again may write it twice.
var ErrMaybeWritten = errors.New("logpipe/backend: may have been written")

// Outcome is what became of one record of a send: written, not written, or
// unknown.
type Outcome int

const (
	// Written: the broker acknowledged the record; its position is known.
	Written Outcome = iota
	// NotWritten: the record is certainly not on the topic (ErrNotWritten).
	NotWritten
	// MaybeWritten: the record may or may not be on the topic
	// (ErrMaybeWritten).
	MaybeWritten
)

// String returns "written", "not written" or "maybe written".
func (o Outcome) String() string {
	switch o {
	case Written:
		return "written"
	case NotWritten:
		return "not written"
	case MaybeWritten:
		return "maybe written"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// OutcomeOf returns the outcome a send's error says: Written for nil,
// MaybeWritten when err matches ErrMaybeWritten, NotWritten when it matches
// ErrNotWritten, ErrClosed or ErrMissingTopic, and MaybeWritten for any
// other error, since nothing says the record was not written.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return Written
	case errors.Is(err, ErrMaybeWritten):
		return MaybeWritten
	case errors.Is(err, ErrNotWritten), errors.Is(err, ErrClosed), errors.Is(err, ErrMissingTopic):
		return NotWritten
	}
	return MaybeWritten
}

// MarkNotWritten returns err marked as the error of a record that was not
// written: the result matches ErrNotWritten and everything err matches, and
// says the same as err. It returns nil for nil. Backends use it.
func MarkNotWritten(err error) error { return mark(err, ErrNotWritten) }

// MarkMaybeWritten returns err marked as the error of a record that may have
// been written: the result matches ErrMaybeWritten and everything err
// matches, and says the same as err. It returns nil for nil. Backends use
// it.
func MarkMaybeWritten(err error) error { return mark(err, ErrMaybeWritten) }

func mark(err, outcome error) error {
	if err == nil || errors.Is(err, outcome) {
		return err
	}
	return &outcomeError{err: err, outcome: outcome}
}

// outcomeError is an error marked with ErrNotWritten or ErrMaybeWritten.
type outcomeError struct {
	err     error
	outcome error
}

func (e *outcomeError) Error() string        { return e.err.Error() }
func (e *outcomeError) Unwrap() error        { return e.err }
func (e *outcomeError) Is(target error) bool { return target == e.outcome }

// BatchError is the error of a SendBatch in which some records were not
// acknowledged. It says, for each record of the batch (by its index in the
// input), what became of it: Errs[i] is nil when record i was written (at
// Positions[i]), else its error, which OutcomeOf reads as NotWritten or
// MaybeWritten.
//
// To send again only what is certainly missing, resend the records whose
// outcome is NotWritten, in their order; a record whose outcome is
// MaybeWritten may then appear twice if it is resent too.
type BatchError struct {
	// Positions holds, in the order of the input, the position of each
	// written record and a zero Position for the others.
	Positions []Position
	// Errs holds, in the order of the input, nil for each written record
	// and the error of each other one.
	Errs []error
}

// NewBatchError returns the BatchError of a batch of len(errs) records whose
// positions and errors are these, or nil when every error is nil. positions
// may be nil (no record written) or shorter than errs (the rest not
// written).
func NewBatchError(positions []Position, errs []error) *BatchError {
	failed := false
	for _, err := range errs {
		failed = failed || err != nil
	}
	if !failed {
		return nil
	}
	pos := make([]Position, len(errs))
	copy(pos, positions)
	for i, err := range errs {
		if err != nil {
			pos[i] = Position{}
		}
	}
	return &BatchError{Positions: pos, Errs: errs}
}

// Outcome returns what became of record i.
func (e *BatchError) Outcome(i int) Outcome { return OutcomeOf(e.Errs[i]) }

// Count returns how many records had each outcome.
func (e *BatchError) Count() (written, notWritten, maybeWritten int) {
	for i := range e.Errs {
		switch e.Outcome(i) {
		case Written:
			written++
		case NotWritten:
			notWritten++
		default:
			maybeWritten++
		}
	}
	return written, notWritten, maybeWritten
}

// Error counts the outcomes and quotes the first few distinct errors, each
// with the first record that had it.
func (e *BatchError) Error() string {
	w, nw, mw := e.Count()
	msg := fmt.Sprintf("logpipe/backend: batch of %d: %d written, %d not written, %d maybe written", len(e.Errs), w, nw, mw)
	const quoted = 3
	var seen []string
	more := 0
	for i, err := range e.Errs {
		if err == nil {
			continue
		}
		text := err.Error()
		if slices.Contains(seen, text) {
			continue
		}
		if len(seen) == quoted {
			more++
			continue
		}
		seen = append(seen, text)
		msg += fmt.Sprintf("; record %d %s: %s", i, e.Outcome(i), text)
	}
	if more > 0 {
		msg += fmt.Sprintf("; and %d more record(s) with other errors", more)
	}
	return msg
}

// Unwrap returns the errors of the records that failed, so that errors.Is
// and errors.As find what any of them matches: a BatchError matches
// ErrMaybeWritten when some record's outcome is unknown, and ErrNotWritten
// when some record was not written.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// AsBatchError returns the *BatchError in err (errors.As), or, when err has
// none, one for a batch of n records in which every record without a
// position in positions failed with err. It returns nil for a nil err.
// logpipe.Producer.SendBatch uses it so that its error always holds one.
func AsBatchError(err error, n int, positions []Position) *BatchError {
	if err == nil {
		return nil
	}
	var be *BatchError
	if errors.As(err, &be) {
		return be
	}
	errs := make([]error, n)
	for i := range errs {
		if i >= len(positions) || positions[i] == (Position{}) {
			errs[i] = err
		}
	}
	if be = NewBatchError(positions, errs); be == nil {
		// Every record has a position and yet the batch failed: say so
		// for each rather than drop the error.
		for i := range errs {
			errs[i] = MarkMaybeWritten(err)
		}
		be = &BatchError{Positions: make([]Position, n), Errs: errs}
	}
	return be
}

// SharedAssignment is implemented by a Backend whose consumers share a
// topic's partitions out among processes (Kafka group assignment), each
// fencing the partitions it claims. SharesPartitions reports whether a
// consumer of opts would: logpipe then takes no standby lock, since the
// processes are meant to run side by side.
type SharedAssignment interface {
	SharesPartitions(opts ConsumerOptions) bool
}
