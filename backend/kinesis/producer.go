package kinesis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/backoff"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// ErrClosed is backend.ErrClosed, returned by the methods of a Producer or Consumer after
// Close.
var ErrClosed = backend.ErrClosed

// maxPartitionKeyLen is Kinesis' limit on a partition key, in Unicode
// characters.
const maxPartitionKeyLen = 256

// Retry delays of the producer for throttled or failed writes.
const (
	putBackoffMin = 50 * time.Millisecond
	putBackoffMax = 5 * time.Second
)

// Producer writes records to Kinesis streams. It implements
// backend.Producer and backend.BatchProducer and is safe for concurrent use.
// It starts no goroutines.
type Producer struct {
	api    API
	region string
	cfg    Config
	seqs   *seqCache
	closed atomic.Bool

	onRetry func(backend.Retry) // backend.ProducerOptions.OnRetry; see ops.go
}

var (
	_ backend.Producer      = (*Producer)(nil)
	_ backend.BatchProducer = (*Producer)(nil)
)

// NewProducer validates cfg and returns a producer. It builds the AWS client
// (loading the SDK's default configuration unless cfg.AWS or cfg.Client is
// set) but makes no call to Kinesis.
func NewProducer(ctx context.Context, cfg Config) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	api, region, err := cfg.client(ctx)
	if err != nil {
		return nil, err
	}
	return &Producer{api: api, region: region, cfg: cfg, seqs: newSeqCache(cfg.SeqNumCacheSize)}, nil
}

// Region is the AWS region the producer writes to.
func (p *Producer) Region() string { return p.region }

// Send writes one record with PutRecord. The key is the partition key (a
// random one when the key is empty, since Kinesis requires one), and the
// sequence number of the previous record this producer sent with the same
// key to the same stream is passed as SequenceNumberForOrdering. The
// returned position holds the stream, shard id and sequence number.
//
// Throttling is retried with backoff until Config.SendTimeout (then the
// error wraps ErrSendTimeout) or ctx ends. A failure after which the record
// may have been stored (timeout, connection reset, 5xx) is retried only
// Config.MaxSendRetries times (default 0), since a retry may write it twice.
// A missing stream is a *MissingStreamError.
//
// The error says what became of the record (backend.OutcomeOf): it matches
// backend.ErrMaybeWritten when some call may have stored it (no answer, a
// server error), else backend.ErrNotWritten (refused, throttled until
// SendTimeout, never sent).
func (p *Producer) Send(ctx context.Context, m backend.Message) (backend.Position, error) {
	if p.closed.Load() {
		return backend.Position{}, backend.MarkNotWritten(ErrClosed)
	}
	key, keyed, err := partitionKey(m)
	if err != nil {
		return backend.Position{}, backend.MarkNotWritten(err)
	}
	in := &kinesis.PutRecordInput{
		StreamName:   aws.String(m.Topic),
		PartitionKey: aws.String(key),
		Data:         m.Value,
	}
	if keyed {
		if seq, ok := p.seqs.get(m.Topic, key); ok {
			in.SequenceNumberForOrdering = aws.String(seq)
		}
	}
	r := p.newSendRetry(m.Topic, 1)
	for {
		out, err := withTimeout(ctx, r.callTimeout(), func(ctx context.Context) (*kinesis.PutRecordOutput, error) {
			return p.api.PutRecord(ctx, in, noSDKRetries)
		})
		if err == nil {
			seq := aws.ToString(out.SequenceNumber)
			if keyed {
				p.seqs.put(m.Topic, key, seq)
			}
			return backend.Position{Topic: m.Topic, Shard: aws.ToString(out.ShardId), SequenceNumber: seq}, nil
		}
		if err := r.again(ctx, p.missing(m.Topic, err)); err != nil {
			return backend.Position{}, r.mark(fmt.Errorf("logpipe/kinesis: put record (partition key %q) to stream %q: %w", key, m.Topic, err))
		}
	}
}

// missing turns Kinesis' ResourceNotFoundException for stream into a
// *MissingStreamError.
func (p *Producer) missing(stream string, err error) error {
	if isNotFound(err) {
		return &MissingStreamError{Stream: stream, Region: p.region, Err: err}
	}
	return err
}

// sendRetry decides, for one Send or one SendBatch, whether a failed write
// is sent again, and waits before it.
type sendRetry struct {
	timeout, request time.Duration
	// deadline is when to give up: SendTimeout after the start, or after
	// the last progress of a SendBatch.
	deadline time.Time
	// maxRetries and retries count the retries of writes that may have
	// been stored.
	maxRetries, retries int
	b                   backoff.Backoff
	// maybe says that a failed call may have stored the records.
	maybe bool

	// For the OnRetry hook (ops.go): the stream, the records of the call,
	// the attempts so far.
	onRetry          func(backend.Retry)
	stream           string
	records, attempt int
}

// mark marks err, the error the write ends with, as backend.ErrMaybeWritten
// when a call may have stored the records, else backend.ErrNotWritten.
func (r *sendRetry) mark(err error) error {
	if r.maybe {
		return backend.MarkMaybeWritten(err)
	}
	return backend.MarkNotWritten(err)
}

func (p *Producer) newSendRetry(stream string, records int) *sendRetry {
	return &sendRetry{
		onRetry: p.onRetry, stream: stream, records: records,
		timeout:    p.cfg.SendTimeout,
		request:    p.cfg.RequestTimeout,
		deadline:   time.Now().Add(p.cfg.SendTimeout),
		maxRetries: p.cfg.MaxSendRetries,
		b:          backoff.Backoff{Policy: backoff.Policy{Min: putBackoffMin, Max: putBackoffMax, Jitter: true}},
	}
}

// callTimeout is the timeout of the next call: RequestTimeout, cut to what
// is left of SendTimeout.
func (r *sendRetry) callTimeout() time.Duration {
	return max(min(r.request, time.Until(r.deadline)), time.Millisecond)
}

// progress restarts the SendTimeout clock and the backoff after a call that
// wrote some records.
func (r *sendRetry) progress() {
	r.deadline = time.Now().Add(r.timeout)
	r.b.Reset()
}

// again returns nil, after a backoff, when the write that failed with err
// is to be sent again; else the error to return. Throttling is retried until
// the deadline; a failure after which the record may have been stored only
// maxRetries times; any other error not at all.
func (r *sendRetry) again(ctx context.Context, err error) error {
	r.maybe = r.maybe || mayBeStored(err)
	if !isTransient(err) {
		return err
	}
	if !notStored(err) {
		if r.retries >= r.maxRetries {
			return fmt.Errorf("%w (the record may have been stored; retried %d times, MaxSendRetries %d)", err, r.retries, r.maxRetries)
		}
		r.retries++
	}
	d := r.b.Next()
	if time.Now().Add(d).After(r.deadline) {
		return fmt.Errorf("%w: no success within SendTimeout %s: %w", ErrSendTimeout, r.timeout, err)
	}
	r.retried(err)
	if serr := wait.Sleep(ctx, d); serr != nil {
		return fmt.Errorf("%w (last error: %v)", serr, err)
	}
	return nil
}

// Close marks the producer closed; later sends return ErrClosed. Nothing is
// buffered, so there is nothing to flush. It is idempotent.
func (p *Producer) Close() error {
	p.closed.Store(true)
	return nil
}

// partitionKey returns m's partition key, and whether it is the message's own
// key (false: a random key for an unkeyed message).
func partitionKey(m backend.Message) (string, bool, error) {
	if m.Topic == "" {
		return "", false, errors.New("logpipe/kinesis: message has no stream name (Topic)")
	}
	if len(m.Key) == 0 {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]), false, nil
	}
	if !utf8.Valid(m.Key) {
		return "", false, fmt.Errorf("logpipe/kinesis: key %q is not valid UTF-8, which a Kinesis partition key must be", m.Key)
	}
	if n := utf8.RuneCount(m.Key); n > maxPartitionKeyLen {
		return "", false, fmt.Errorf("logpipe/kinesis: key of %d characters is longer than Kinesis' limit of %d for a partition key", n, maxPartitionKeyLen)
	}
	return string(m.Key), true, nil
}
