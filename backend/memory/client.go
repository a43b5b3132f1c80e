package memory

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/offsetstore"
)

var _ backend.Backend = (*Broker)(nil)

// Name returns "memory".
func (b *Broker) Name() string { return "memory" }

// NewProducer returns a producer writing to b.
func (b *Broker) NewProducer(context.Context, backend.ProducerOptions) (backend.Producer, error) {
	return &Producer{b: b}, nil
}

// NewConsumer returns a consumer of opts.Topic that resumes from the
// positions in opts.Offsets, else in logpipe_kafkaoffset of opts.DB (the
// earliest offset of a partition with none). Broker-side offsets are not
// supported.
func (b *Broker) NewConsumer(_ context.Context, opts backend.ConsumerOptions) (backend.Consumer, error) {
	if opts.BrokerOffsets {
		return nil, errorf("the in-memory broker keeps no offsets: %w", backend.ErrUnsupported)
	}
	store, err := opts.Store(func(db *gorm.DB) backend.OffsetStore { return &offsetstore.Kafka{DB: db} })
	if err != nil {
		return nil, errorf("%w", err)
	}
	return &Consumer{b: b, topic: opts.Topic, name: opts.Name, store: store, PollInterval: DefaultPollInterval, MaxRecords: DefaultMaxRecords, onAssign: opts.OnAssign}, nil
}

// Producer writes to a Broker. It is safe for concurrent use.
type Producer struct {
	b      *Broker
	closed atomic.Bool
}

// ErrClosed is backend.ErrClosed, returned by a closed producer or consumer.
var ErrClosed = backend.ErrClosed

// Send appends m to its topic, which must exist (*MissingTopicError). An
// error means the record was not written (it matches
// backend.ErrNotWritten).
func (p *Producer) Send(ctx context.Context, m backend.Message) (backend.Position, error) {
	if p.closed.Load() {
		return backend.Position{}, backend.MarkNotWritten(ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return backend.Position{}, backend.MarkNotWritten(err)
	}
	pos, err := p.b.append(m)
	return pos, backend.MarkNotWritten(err)
}

// SendBatch appends msgs in order, stopping at the first failure: its error
// is then a *backend.BatchError in which that record and the ones after it
// are not written.
func (p *Producer) SendBatch(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	out := make([]backend.Position, len(msgs))
	for i, m := range msgs {
		pos, err := p.Send(ctx, m)
		if err != nil {
			errs := make([]error, len(msgs))
			errs[i] = err
			for j := i + 1; j < len(msgs); j++ {
				errs[j] = backend.MarkNotWritten(fmt.Errorf("logpipe/memory: record %d not sent, because record %d failed: %v", j, i, err))
			}
			return out, backend.NewBatchError(out, errs)
		}
		out[i] = pos
	}
	return out, nil
}

// Close marks the producer closed. It is idempotent.
func (p *Producer) Close() error {
	p.closed.Store(true)
	return nil
}

// Defaults of a Consumer's fields.
const (
	DefaultPollInterval = 50 * time.Millisecond
	DefaultMaxRecords   = 500
)

// Consumer reads every partition of one topic of a Broker. Use it from one
// goroutine at a time.
type Consumer struct {
	b      *Broker
	topic  string
	name   string
	store  backend.OffsetStore
	next   map[int32]int64 // next offset to hand out, per partition
	loaded bool
	closed atomic.Bool
	// onAssign is backend.ConsumerOptions.OnAssign (see ops.go).
	onAssign func(backend.Assignment)
	// PollInterval is how long Fetch waits for records before returning
	// none. Default 50ms.
	PollInterval time.Duration
	// MaxRecords caps the records one Fetch returns. Default 500.
	MaxRecords int
}

// Fetch returns the next records of every partition, waiting up to
// PollInterval for some to arrive.
func (c *Consumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if !c.loaded {
		stored, err := c.store.Load(ctx, c.name, c.topic)
		if err != nil {
			return nil, err
		}
		c.next = make(map[int32]int64, len(stored))
		for _, pos := range stored {
			c.next[pos.Partition] = pos.Offset + 1
		}
		c.loaded = true
		c.assigned()
	}
	timer := time.NewTimer(c.PollInterval)
	defer timer.Stop()
	for {
		recs, changed, err := c.b.read(c.topic, c.next, c.MaxRecords)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			for _, r := range recs {
				c.next[r.Partition] = r.Offset + 1
			}
			return recs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return []backend.Record{}, nil
		case <-changed:
		}
	}
}

// Commit stores rec's position through the store, in tx.
func (c *Consumer) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.store.Commit(ctx, tx, backend.Checkpoint{Position: rec.Position, Consumer: c.name})
}

// Close marks the consumer closed. It is idempotent.
func (c *Consumer) Close() error {
	c.closed.Store(true)
	return nil
}
