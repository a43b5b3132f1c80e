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

// waiter collects the results of one Send or SendBatch call: each record's
// position or error, by its index in the call.
type waiter struct {
	mu        sync.Mutex
	positions []backend.Position
	errs      []error
	finished  []bool
	remaining int
	done      chan struct{}
}

func newWaiter(n int) *waiter {
	return &waiter{positions: make([]backend.Position, n), errs: make([]error, n), finished: make([]bool, n), remaining: n, done: make(chan struct{})}
}

// finish records the outcome of n items of one request: their positions, or
// err (marked backend.ErrNotWritten or backend.ErrMaybeWritten).
func (w *waiter) finish(items []*item, pos func(i int) backend.Position, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, it := range items {
		if err == nil {
			w.positions[it.idx] = pos(i)
		} else {
			w.errs[it.idx] = err
		}
		w.finished[it.idx] = true
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
			finishGroups(batch, nil, backend.MarkNotWritten(ErrClosed))
			continue
		}
		base, err, cause := q.produce(batch)
		finishGroups(batch, func(i int) backend.Position {
			return backend.Position{Topic: q.tp.topic, Partition: int32(q.tp.partition), Offset: base + int64(i)}
		}, err)
		if err != nil {
			// What was queued behind the failed request was sent after it;
			// writing it now would put it before the failed records once
			// their caller sends them again, reordering a key.
			if rest := q.takeAll(); len(rest) > 0 {
				finishGroups(rest, nil, backend.MarkNotWritten(&NotSentError{Topic: q.tp.topic, Partition: int32(q.tp.partition), Err: cause}))
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

// produce writes batch in one request and returns the first offset. A
// request that wrote nothing (see notWrittenReason) is tried again until
// SendTimeout, unless its refusal will come again; one that may have written
// its records (a timeout, a connection lost after the request went out) is
// tried again only MaxSendRetries times, and only on a retriable error, since
// that may write them twice.
//
// On failure, err is marked backend.ErrNotWritten when no attempt may have
// written the records, else backend.ErrMaybeWritten; cause is the last
// attempt's error, unmarked.
func (q *partitionQueue) produce(batch []*item) (base int64, err, cause error) {
	cfg := q.p.cfg
	ctx, cancel := context.WithTimeout(context.Background(), cfg.SendTimeout)
	defer cancel()
	acks := kafkago.RequireAll
	if cfg.Acks == AcksLeader {
		acks = kafkago.RequireOne
	}
	records := make([]kafkago.Record, len(batch))
	refused := 0   // attempts that wrote nothing
	maybe := false // whether an attempt may have written the records
	for attempt := 0; ; attempt++ {
		for i, it := range batch {
			// Bytes readers are consumed by a request: build them anew on
			// each attempt.
			records[i] = kafkago.Record{Time: it.ts, Key: kafkago.NewBytes(nilIfEmpty(it.key)), Value: kafkago.NewBytes(it.value), Headers: toKafkaHeaders(it.headers)}
		}
		rr := &sentRecords{RecordReader: kafkago.NewRecordReader(records...)}
		res, err := q.p.conn.client(cfg.SendTimeout).Produce(ctx, &kafkago.ProduceRequest{
			Topic:        q.tp.topic,
			Partition:    q.tp.partition,
			RequiredAcks: acks,
			Records:      rr,
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			for _, rerr := range res.RecordErrors {
				// The broker rejected the batch for this record.
				err = fmt.Errorf("%w: %w", kafkago.InvalidRecord, rerr)
				break
			}
		}
		if err == nil {
			return res.BaseOffset, nil, nil
		}
		reason := notWrittenReason(err, rr.read.Load())
		maybe = maybe || reason == ""
		fail := func(what string) (int64, error, error) {
			mark, outcome := backend.MarkNotWritten, "not written"
			if maybe {
				mark, outcome = backend.MarkMaybeWritten, "may have been written"
			}
			return 0, mark(fmt.Errorf("logpipe/kafka: produce %d record(s) to %s/%d %s (attempt %d, %d refused; MaxSendRetries %d): records %s: %w",
				len(batch), q.tp.topic, q.tp.partition, what, attempt+1, refused, cfg.MaxSendRetries, outcome, err)), err
		}
		if reason != "" {
			// Nothing was written: trying again cannot duplicate, so it
			// does not count as a retry.
			if !retryRefusal(err) {
				return fail("refused")
			}
			if ctx.Err() != nil {
				return fail("failed until SendTimeout " + cfg.SendTimeout.String())
			}
			if leaderChanged(err) || !rr.read.Load() || errors.Is(err, kafkago.UnknownTopicOrPartition) {
				// The transport's metadata is out of date, or it keeps
				// the error of a metadata request that failed: read it
				// anew (at most once a second).
				q.p.conn.refreshMetadata()
			}
			cfg.Logger.Debug("logpipe/kafka: produce refused, nothing written; trying again until the send timeout", "topic", q.tp.topic, "partition", q.tp.partition, "reason", reason, "error", err)
			attempt--
			refused++
			q.p.retried(q.tp, len(batch), refused, true, err)
			if wait.Sleep(ctx, retryDelay.Delay(refused)) != nil {
				return fail("failed until SendTimeout " + cfg.SendTimeout.String())
			}
			continue
		}
		if attempt >= cfg.MaxSendRetries || !retriable(err) || ctx.Err() != nil {
			return fail("failed with no answer")
		}
		cfg.Logger.Warn("logpipe/kafka: produce failed after the request went out, retrying (this may write the records twice)", "topic", q.tp.topic, "partition", q.tp.partition, "attempt", attempt+1, "error", err)
		q.p.retried(q.tp, len(batch), attempt+1, false, err)
		if wait.Sleep(ctx, retryDelay.Delay(attempt+1)) != nil {
			return fail("failed with no answer")
		}
	}
}

// retryDelay is the wait before the n-th new try (n >= 1): 50ms doubling up
// to 1s.
var retryDelay = backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second}

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

// headersSize is the bytes of hs's keys and values, for batch sizing.
func headersSize(hs []backend.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value) + recordOverhead
	}
	return n
}
