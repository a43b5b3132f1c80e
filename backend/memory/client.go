package memory

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
)

// Producer writes to a Broker. It is safe for concurrent use.
type Producer struct {
	b      *Broker
	closed atomic.Bool
}

// NewProducer returns a producer writing to b.
func (b *Broker) NewProducer() *Producer { return &Producer{b: b} }

// ErrClosed is returned by a closed producer or consumer.
var ErrClosed = errors.New("logpipe/memory: closed")

// Send appends m to its topic, creating the topic (DefaultPartitions) when
// it does not exist.
func (p *Producer) Send(ctx context.Context, m backend.Message) (backend.Position, error) {
	if p.closed.Load() {
		return backend.Position{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return backend.Position{}, err
	}
	return p.b.append(m), nil
}

// SendBatch appends msgs in order.
func (p *Producer) SendBatch(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	out := make([]backend.Position, 0, len(msgs))
	for _, m := range msgs {
		pos, err := p.Send(ctx, m)
		if err != nil {
			return out, err
		}
		out = append(out, pos)
	}
	return out, nil
}

// Close marks the producer closed. It is idempotent.
func (p *Producer) Close() error {
	p.closed.Store(true)
	return nil
}

// Consumer reads every partition of one topic of a Broker. Use it from one
// goroutine at a time.
type Consumer struct {
	b      *Broker
	topic  string
	store  backend.OffsetStore
	next   map[int32]int64 // next offset to hand out, per partition
	loaded bool
	closed atomic.Bool
	// PollInterval is how long Fetch waits for records before returning
	// none. Default 50ms.
	PollInterval time.Duration
	// MaxRecords caps the records one Fetch returns. Default 500.
	MaxRecords int
}

// NewConsumer returns a consumer of topic that resumes from the positions in
// store (the earliest offset of a partition with none).
func (b *Broker) NewConsumer(topic string, store backend.OffsetStore) *Consumer {
	return &Consumer{b: b, topic: topic, store: store, PollInterval: 50 * time.Millisecond, MaxRecords: 500}
}

// Fetch returns the next records of every partition, waiting up to
// PollInterval for some to arrive.
func (c *Consumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if !c.loaded {
		next, err := c.store.Load(ctx, c.topic)
		if err != nil {
			return nil, err
		}
		if next == nil {
			next = map[int32]int64{}
		}
		c.next, c.loaded = next, true
	}
	timer := time.NewTimer(c.PollInterval)
	defer timer.Stop()
	for {
		recs, changed := c.b.read(c.topic, c.next, c.MaxRecords)
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
			return nil, nil
		case <-changed:
		}
	}
}

// Commit stores the offset after rec through the store, in tx.
func (c *Consumer) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	return c.store.Commit(ctx, tx, rec.Topic, rec.Partition, rec.Offset+1)
}

// Close marks the consumer closed. It is idempotent.
func (c *Consumer) Close() error {
	c.closed.Store(true)
	return nil
}
