package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/backoff"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// States of an item.
const (
	itemQueued    int32 = iota // waiting in a partitionQueue
	itemTaken                  // part of a request
	itemAbandoned              // its sender gave up before it was taken
)

// item is one record on its way to a partition.
type item struct {
	key, value []byte
	headers    []backend.Header
	ts         time.Time
	w          *waiter
	idx        int
	state      atomic.Int32
}

// waiter collects the results of one Send or SendBatch call.
type waiter struct {
	mu        sync.Mutex
	positions []backend.Position
	errs      []error
	remaining int
	done      chan struct{}
}

func newWaiter(n int) *waiter {
	return &waiter{positions: make([]backend.Position, n), remaining: n, done: make(chan struct{})}
}

// finish records the outcome of n items of one request.
func (w *waiter) finish(items []*item, pos func(i int) backend.Position, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs = append(w.errs, err)
	}
	for i, it := range items {
		if err == nil {
			w.positions[it.idx] = pos(i)
		}
		w.remaining--
	}
	if w.remaining == 0 {
		close(w.done)
	}
}

// partitionQueue holds the records waiting for one partition and runs at
// most one request to it at a time.
type partitionQueue struct {
	p  *Producer
	tp topicPartition

	mu      sync.Mutex
	items   []*item
	running bool
	closed  bool
}

// add queues items and starts a flusher unless one runs. The caller holds
// p.mu for reading and has checked that the producer is open.
func (q *partitionQueue) add(items []*item) {
	q.mu.Lock()
	q.items = append(q.items, items...)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		q.p.wg.Add(1)
		go q.flush()
	}
}

// closeQueue makes the flusher fail what is still queued after its current
// request.
func (q *partitionQueue) closeQueue() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// take removes the next request's items: up to MaxBatchBytes (at least one
// item), skipping abandoned ones. It reports false when nothing is left.
func (q *partitionQueue) take() (batch []*item, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	size, n := 0, 0
	for n < len(q.items) {
		it := q.items[n]
		sz := len(it.key) + len(it.value) + headersSize(it.headers) + recordOverhead
		if len(batch) > 0 && size+sz > q.p.cfg.MaxBatchBytes {
			break
		}
		n++
		if it.state.CompareAndSwap(itemQueued, itemTaken) {
			batch = append(batch, it)
			size += sz
		}
	}
	clear(q.items[:n])
	q.items = q.items[n:]
	if len(q.items) == 0 {
		q.items = nil
	}
	if len(batch) == 0 {
		q.running = false
	}
	return batch, q.closed
}

// recordOverhead is a generous estimate of a record's bytes beyond its key
// and value in a v2 record batch (length, attributes, varint deltas).
const recordOverhead = 32

func (q *partitionQueue) flush() {
	defer q.p.wg.Done()
	for {
		batch, closed := q.take()
		if len(batch) == 0 {
			return
		}
		if closed {
			finishGroups(batch, nil, ErrClosed)
			continue
		}
		base, err := q.produce(batch)
		finishGroups(batch, func(i int) backend.Position {
			return backend.Position{Topic: q.tp.topic, Partition: int32(q.tp.partition), Offset: base + int64(i)}
		}, err)
		if err != nil {
			// What was queued behind the failed request was sent after it;
			// writing it now would put it before the failed records once
			// their caller sends them again, reordering a key.
			if rest := q.takeAll(); len(rest) > 0 {
				finishGroups(rest, nil, &NotSentError{Topic: q.tp.topic, Partition: int32(q.tp.partition), Err: err})
			}
		}
	}
}

// takeAll removes every queued item, skipping abandoned ones. The flusher
// keeps running: its next take finds the queue empty, or what was added
// since.
func (q *partitionQueue) takeAll() []*item {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*item
	for _, it := range q.items {
		if it.state.CompareAndSwap(itemQueued, itemTaken) {
			out = append(out, it)
		}
	}
	q.items = nil
	return out
}

// finishGroups reports a request's outcome to each waiter in it; pos takes
// the item's index in batch.
func finishGroups(batch []*item, pos func(i int) backend.Position, err error) {
	start := 0
	for i := 1; i <= len(batch); i++ {
		if i < len(batch) && batch[i].w == batch[start].w {
			continue
		}
		off := start
		batch[start].w.finish(batch[start:i], func(j int) backend.Position { return pos(off + j) }, err)
		start = i
	}
}

// produce writes batch in one request, retried up to MaxSendRetries times
// on retriable errors within SendTimeout, and returns the first offset.
func (q *partitionQueue) produce(batch []*item) (int64, error) {
	cfg := q.p.cfg
	ctx, cancel := context.WithTimeout(context.Background(), cfg.SendTimeout)
	defer cancel()
	acks := kafkago.RequireAll
	if cfg.Acks == AcksLeader {
		acks = kafkago.RequireOne
	}
	records := make([]kafkago.Record, len(batch))
	safe := 0
	for attempt := 0; ; attempt++ {
		for i, it := range batch {
			// Bytes readers are consumed by a request: build them anew on
			// each attempt.
			records[i] = kafkago.Record{Time: it.ts, Key: kafkago.NewBytes(nilIfEmpty(it.key)), Value: kafkago.NewBytes(it.value), Headers: toKafkaHeaders(it.headers)}
		}
		res, err := q.p.conn.client(cfg.SendTimeout).Produce(ctx, &kafkago.ProduceRequest{
			Topic:        q.tp.topic,
			Partition:    q.tp.partition,
			RequiredAcks: acks,
			Records:      kafkago.NewRecordReader(records...),
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			for _, rerr := range res.RecordErrors {
				err = rerr
				break
			}
		}
		if err == nil {
			return res.BaseOffset, nil
		}
		if ctx.Err() == nil && notWritten(err) {
			// The broker refused the request before writing anything (no
			// leader yet, leader moved, broker unreachable): trying again
			// cannot duplicate, so it does not count as a retry.
			if leaderChanged(err) {
				q.p.conn.refreshMetadata()
			}
			cfg.Logger.Debug("logpipe/kafka: produce refused, trying again", "topic", q.tp.topic, "partition", q.tp.partition, "error", err)
			attempt--
			safe++
			q.p.retried(q.tp, len(batch), safe, true, err)
			_ = wait.Sleep(ctx, retryDelay.Delay(safe)) // the caller checks ctx
			continue
		}
		if attempt >= cfg.MaxSendRetries || !retriable(err) || ctx.Err() != nil {
			return 0, fmt.Errorf("logpipe/kafka: produce %d record(s) to %s/%d (attempt %d of %d): %w",
				len(batch), q.tp.topic, q.tp.partition, attempt+1, cfg.MaxSendRetries+1, err)
		}
		cfg.Logger.Warn("logpipe/kafka: produce failed, retrying", "topic", q.tp.topic, "partition", q.tp.partition, "attempt", attempt+1, "error", err)
		q.p.retried(q.tp, len(batch), attempt+1, false, err)
		_ = wait.Sleep(ctx, retryDelay.Delay(attempt+1)) // the caller checks ctx
	}
}

// retryDelay is the wait before the n-th new try (n >= 1): 50ms doubling up
// to 1s.
var retryDelay = backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second}

// notWritten reports whether err says that the broker wrote none of the
// request's records.
func notWritten(err error) bool {
	return leaderChanged(err) || errors.Is(err, kafkago.NotEnoughReplicas) ||
		errors.Is(err, syscall.ECONNREFUSED)
}

// leaderChanged reports whether err says the client's partition leaders are
// out of date: the broker says so, or the transport's cached metadata has
// no leader (or no such partition) for the request.
func leaderChanged(err error) bool {
	return errors.Is(err, kafkago.NotLeaderForPartition) || errors.Is(err, kafkago.LeaderNotAvailable) ||
		errors.Is(err, kafkago.FencedLeaderEpoch) || errors.Is(err, kafkago.UnknownLeaderEpoch) ||
		errors.Is(err, protocol.ErrNoLeader) || errors.Is(err, protocol.ErrNoPartition)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// retriable reports whether err may pass by itself: a retriable Kafka error
// or a network failure.
func retriable(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary()
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// toKafkaHeaders converts record headers for a produce request.
func toKafkaHeaders(hs []backend.Header) []kafkago.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// fromKafkaHeaders converts the headers of a fetched record.
func fromKafkaHeaders(hs []kafkago.Header) []backend.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]backend.Header, len(hs))
	for i, h := range hs {
		out[i] = backend.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// headersSize is the bytes of hs's keys and values, for batch sizing.
func headersSize(hs []backend.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value) + recordOverhead
	}
	return n
}
