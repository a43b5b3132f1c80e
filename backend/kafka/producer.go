package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

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
	rr   kafkago.RoundRobin // spreads keyless records

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
// The error says what became of the record (backend.OutcomeOf): it matches
// backend.ErrNotWritten when the record is certainly not on the topic (the
// broker refused it, the request was never sent, ctx ended or the timeout
// passed before the record joined a request), and backend.ErrMaybeWritten
// when it may be (a request sent and not answered). Refusals (no leader,
// leader moved, broker unreachable or restarting) are tried again until
// SendTimeout, which cannot duplicate; unknown outcomes only
// Config.MaxSendRetries times.
//
// When a produce request to a partition fails, the records queued behind it
// for that partition (by this or concurrent calls) are not sent: they fail
// with a *NotSentError, not written. Sending the failed records again, in
// their order, then keeps the order of each key.
func (p *Producer) Send(ctx context.Context, m backend.Message) (backend.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SendTimeout)
	defer cancel()
	pos, errs, err := p.send(ctx, []backend.Message{m})
	if err != nil {
		return backend.Position{}, err
	}
	return pos[0], errs[0]
}

// SendBatch writes msgs and returns their positions, in the order of msgs.
// Records of one partition go in as few requests as Config.MaxBatchBytes
// allows, to every partition at once; records with one key keep their
// order. Each request is limited by Config.SendTimeout; the whole batch by
// ctx only.
//
// On error, the positions of the records written are filled in (zero
// Position for the others) and the error is a *backend.BatchError with each
// record's outcome: written, not written (backend.ErrNotWritten: refused,
// never sent, or queued behind a failed request to its partition, a
// *NotSentError) or maybe written (backend.ErrMaybeWritten: its request got
// no answer, or ctx ended while it was in flight). Resending exactly the
// records not written, in their order, cannot duplicate and keeps each
// key's order.
func (p *Producer) SendBatch(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	if len(msgs) == 0 {
		return []backend.Position{}, nil
	}
	pos, errs, err := p.send(ctx, msgs)
	if err != nil {
		return make([]backend.Position, len(msgs)), backend.AsBatchError(err, len(msgs), nil)
	}
	if be := backend.NewBatchError(pos, errs); be != nil {
		return pos, be
	}
	return pos, nil
}

// send queues msgs and waits for their outcomes: each record's position, or
// its error (marked not written or maybe written). err, marked not written,
// is set instead when nothing was queued (the producer is closed, a topic
// lookup failed).
func (p *Producer) send(ctx context.Context, msgs []backend.Message) (positions []backend.Position, errs []error, err error) {
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return nil, nil, backend.MarkNotWritten(ErrClosed)
	}
	now := time.Now()
	w := newWaiter(len(msgs))
	items := make([]item, len(msgs))
	groups := map[topicPartition][]*item{}
	var order []topicPartition
	var (
		lastTopic string // a batch is usually of one topic: look it up once
		parts     []int
	)
	for i, m := range msgs {
		if parts == nil || m.Topic != lastTopic {
			var err error
			if parts, err = p.lookup(ctx, m.Topic); err != nil {
				return nil, nil, backend.MarkNotWritten(err)
			}
			lastTopic = m.Topic
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
		return nil, nil, backend.MarkNotWritten(ErrClosed)
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
		return nil, nil, backend.MarkNotWritten(ErrClosed)
	}
	for i, tp := range order {
		qs[i].add(groups[tp])
	}
	p.mu.RUnlock()

	select {
	case <-w.done:
		return w.positions, w.errs, nil
	case <-ctx.Done():
	}
	// Records still queued are taken out and not written; those in a
	// request keep the outcome they have, or none yet: unknown.
	w.mu.Lock()
	defer w.mu.Unlock()
	positions = make([]backend.Position, len(msgs))
	errs = make([]error, len(msgs))
	for i := range items {
		it := &items[i]
		switch {
		case w.finished[i]:
			positions[i], errs[i] = w.positions[i], w.errs[i]
		case it.state.CompareAndSwap(itemQueued, itemAbandoned):
			errs[i] = backend.MarkNotWritten(fmt.Errorf("logpipe/kafka: record %d (key %q) to %s not sent: %w", i, it.key, msgs[i].Topic, ctx.Err()))
		default:
			errs[i] = backend.MarkMaybeWritten(fmt.Errorf("logpipe/kafka: record %d (key %q) to %s sent, no acknowledgement yet; it may have been written: %w", i, it.key, msgs[i].Topic, ctx.Err()))
		}
	}
	return positions, errs, nil
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
// missing topic is returned at once, unless this producer has found the
// topic before: a broker that has just restarted may not know its topics
// yet, so that one is tried again until SendTimeout too. An error that will
// come again (refused credentials, say) is returned at once.
func (p *Producer) lookup(ctx context.Context, topic string) ([]int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SendTimeout)
	defer cancel()
	b := backoff.Backoff{Policy: retryDelay}
	var last error // the last error that says more than that time ran out
	for {
		parts, err := p.conn.partitions(ctx, topic)
		if err == nil {
			return parts, nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		missing := errors.Is(err, backend.ErrMissingTopic)
		if ctx.Err() != nil || (missing && !p.conn.known(topic)) || (!missing && !retriable(err)) {
			return nil, last
		}
		if b.Retries() == 0 {
			p.cfg.Logger.Warn("logpipe/kafka: looking up the topic failed; trying again until the send timeout", "topic", topic, "error", err)
		}
		// The transport keeps the error of a failed metadata request
		// until it next reads the metadata: make it read again (at most
		// once a second).
		p.conn.refreshMetadata()
		if b.Wait(ctx) != nil {
			return nil, fmt.Errorf("%w (tried again until SendTimeout %s)", last, p.cfg.SendTimeout)
		}
	}
}
