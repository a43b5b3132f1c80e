package kafka

import (
	"sync/atomic"

	"github.com/logpipe-go/logpipe/backend"
)

// What the Kafka backend reports for monitoring: send retries
// (backend.ProducerOptions.OnRetry), the partitions a consumer reads
// (backend.ConsumerOptions.OnAssign) and, from every fetch response, each
// partition's high watermark (backend.LagReporter).

var _ backend.LagReporter = (*Consumer)(nil)

// retried reports a produce request to tp that is tried again.
func (p *Producer) retried(tp topicPartition, records, attempt int, safe bool, err error) {
	if p.onRetry == nil {
		return
	}
	p.onRetry(backend.Retry{Topic: tp.topic, Partition: int32(tp.partition), Records: records, Attempt: attempt, Safe: safe, Err: err})
}

// readerLag is what the last fetch response of a partition said.
type readerLag struct {
	end  int64 // the high watermark
	next int64 // the next offset to fetch after that response's records
}

// readerEnds holds a partition reader's last readerLag; nil until a fetch
// has answered.
type readerEnds = atomic.Pointer[readerLag]

// noteEnd records the high watermark of the fetch response just read, and
// the offset the reader has reached.
func (r *partitionReader) noteEnd(highWatermark int64) {
	r.ends.Store(&readerLag{end: highWatermark, next: r.offset})
}

// Lag returns, for every partition being read, its high watermark in the
// last fetch response and the next offset to hand out (-1 for both until a
// fetch has answered). It implements backend.LagReporter.
func (c *Consumer) Lag() []backend.Lag {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]backend.Lag, 0, len(c.readers))
	for p, r := range c.readers {
		l := backend.Lag{Topic: c.topic, Partition: p, Next: -1, End: -1}
		if e := r.ends.Load(); e != nil {
			l.End, l.Next = e.end, e.next
		}
		out = append(out, l)
	}
	return out
}

// assigned reports partitions started or stopped.
func (c *Consumer) assigned(added, revoked []int32) {
	if c.onAssign == nil || len(added)+len(revoked) == 0 {
		return
	}
	c.onAssign(backend.Assignment{Topic: c.topic, Added: added, Revoked: revoked})
}
