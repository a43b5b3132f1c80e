package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/backoff"
)

// Producer sends records to Kafka. It implements backend.Producer and
// backend.BatchProducer and is safe for concurrent use.
//
// Each partition has at most one produce request in flight; records sent
// meanwhile wait and go together in the next request. A lone Send therefore
// costs one round trip, with no linger, and concurrent Sends batch
// themselves. Writing a partition's requests one at a time also keeps the
// order of records with one key, retries included.
type Producer struct {
	conn *conn
	cfg  Config
	rr   atomic.Uint32

	mu     sync.RWMutex // guards closed and queues; held for reading to enqueue
	closed bool
	queues map[topicPartition]*partitionQueue
	wg     sync.WaitGroup // running queue flushers

	onRetry func(backend.Retry) // backend.ProducerOptions.OnRetry; see ops.go

	closeOnce sync.Once
}

type topicPartition struct {
	topic     string
	partition int
}

var (
	_ backend.Producer      = (*Producer)(nil)
	_ backend.BatchProducer = (*Producer)(nil)
)

// NewProducer validates cfg and returns a Producer. It does not contact the
// brokers: the first Send does, and reports an unreachable broker. The
// Producer starts goroutines only while requests are in flight; Close waits
// for them.
func NewProducer(cfg Config) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c, err := newConn(cfg)
	if err != nil {
		return nil, err
	}
	return &Producer{conn: c, cfg: cfg, queues: map[topicPartition]*partitionQueue{}}, nil
}

// Send writes m and returns its partition and offset once the broker has
// acknowledged it (Config.Acks), or an error after at most
// Config.SendTimeout. A keyed record goes to the partition Kafka's Java
// client would choose; a keyless one to the next partition in turn. A topic
// that does not exist is a *MissingTopicError.
//
// When ctx ends or the timeout passes before the record was handed to a
// request, it is not written; after that, it may have been.
//
// When a produce request to a partition fails, the records queued behind it
// for that partition (by this or concurrent calls) are not sent: they fail
// with a *NotSentError. Sending the failed records again, in their order,
// then keeps the order of each key.
func (p *Producer) Send(ctx context.Context, m backend.Message) (backend.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SendTimeout)
	defer cancel()
	pos, err := p.send(ctx, []backend.Message{m})
	if err != nil {
		return backend.Position{}, err
	}
	return pos[0], nil
}

// SendBatch writes msgs and returns their positions, in the order of msgs.
// Records of one partition go in as few requests as Config.MaxBatchBytes
// allows, to every partition at once; records with one key keep their
// order. Each request is limited by Config.SendTimeout; the whole batch by
// ctx only.
//
// On error, positions is nil when ctx ended (some records may have been
// written); otherwise it holds the positions of the records that were
// written (zero Position for the others) and the error joins each failed
// request's error. When a request to a partition fails, the records queued
// behind it for that partition, this batch's and other calls', are not sent
// and fail with a *NotSentError, so that a resend keeps each key's order.
func (p *Producer) SendBatch(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	if len(msgs) == 0 {
		return []backend.Position{}, nil
	}
	return p.send(ctx, msgs)
}

func (p *Producer) send(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	now := time.Now()
	w := newWaiter(len(msgs))
	items := make([]item, len(msgs))
	groups := map[topicPartition][]*item{}
	var order []topicPartition
	for i, m := range msgs {
		parts, err := p.lookup(ctx, m.Topic)
		if err != nil {
			return nil, err
		}
		tp := topicPartition{topic: m.Topic, partition: partitionFor(m.Key, parts, &p.rr)}
		items[i] = item{key: m.Key, value: m.Value, headers: m.Headers, ts: now, w: w, idx: i}
		if _, ok := groups[tp]; !ok {
			order = append(order, tp)
		}
		groups[tp] = append(groups[tp], &items[i])
	}

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return nil, ErrClosed
	}
	qs := make([]*partitionQueue, len(order))
	missing := false
	for i, tp := range order {
		qs[i] = p.queues[tp]
		missing = missing || qs[i] == nil
	}
	p.mu.RUnlock()
	if missing {
		p.mu.Lock()
		for i, tp := range order {
			if qs[i] == nil {
				if p.queues[tp] == nil {
					p.queues[tp] = &partitionQueue{p: p, tp: tp}
				}
				qs[i] = p.queues[tp]
			}
		}
		p.mu.Unlock()
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return nil, ErrClosed
	}
	for i, tp := range order {
		qs[i].add(groups[tp])
	}
	p.mu.RUnlock()

	select {
	case <-w.done:
	case <-ctx.Done():
		inFlight := 0
		for i := range items {
			if !items[i].state.CompareAndSwap(itemQueued, itemAbandoned) {
				inFlight++
			}
		}
		if inFlight == 0 {
			return nil, fmt.Errorf("logpipe/kafka: send to %s: nothing written: %w", msgs[0].Topic, ctx.Err())
		}
		return nil, fmt.Errorf("logpipe/kafka: send to %s: no acknowledgement for %d record(s), which may have been written: %w",
			msgs[0].Topic, inFlight, ctx.Err())
	}
	return w.positions, errors.Join(w.errs...)
}

// Close waits for the requests in flight (each ends within SendTimeout),
// fails the Sends still queued with ErrClosed, and closes the connections.
// It is idempotent and returns nil.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		queues := p.queues
		p.mu.Unlock()
		for _, q := range queues {
			q.closeQueue()
		}
		p.wg.Wait()
		p.conn.close()
	})
	return nil
}

// lookup returns topic's partitions, trying again while the brokers cannot
// be reached (a broker restarting, say) for up to Config.SendTimeout: no
// record has been handed to a request yet, so retrying cannot duplicate. A
// missing topic is returned at once.
func (p *Producer) lookup(ctx context.Context, topic string) ([]int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SendTimeout)
	defer cancel()
	b := backoff.Backoff{Policy: retryDelay}
	for {
		parts, err := p.conn.partitions(ctx, topic)
		if err == nil || errors.Is(err, backend.ErrMissingTopic) || ctx.Err() != nil {
			return parts, err
		}
		if b.Retries() == 0 {
			p.cfg.Logger.Warn("logpipe/kafka: looking up the topic failed; trying again until the send timeout", "topic", topic, "error", err)
		}
		if b.Wait(ctx) != nil {
			return nil, err
		}
	}
}
