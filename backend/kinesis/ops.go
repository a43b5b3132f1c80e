package kinesis

import "github.com/logpipe-go/logpipe/backend"

// What the Kinesis backend reports for monitoring: send retries
// (backend.ProducerOptions.OnRetry), the shards a consumer
// reads (backend.ConsumerOptions.OnAssign) and how far each is behind the
// tip (MillisBehindLatest, backend.LagReporter).

var _ backend.LagReporter = (*Consumer)(nil)

// Lag returns, for every shard being read (known, not read to its end, not
// gone), the MillisBehindLatest of its last GetRecords; End and Next are -1
// (Kinesis has no record counts). It implements backend.LagReporter and,
// like Fetch, is for one goroutine at a time.
func (c *Consumer) Lag() []backend.Lag {
	out := make([]backend.Lag, 0, len(c.order))
	for _, id := range c.order {
		s := c.shards[id]
		if s == nil || s.ended || s.gone {
			continue
		}
		out = append(out, backend.Lag{Topic: c.stream, Shard: id, Next: -1, End: -1, Behind: s.behind})
	}
	return out
}

// assigned reports a shard the consumer now knows and will read.
func (c *Consumer) assigned(id string) {
	if c.onAssign != nil {
		c.onAssign(backend.Assignment{Topic: c.stream, AddedShards: []string{id}})
	}
}

// retried reports a write that is sent again after err.
func (r *sendRetry) retried(err error) {
	r.attempt++
	if r.onRetry != nil {
		r.onRetry(backend.Retry{Topic: r.stream, Records: r.records, Attempt: r.attempt, Safe: notStored(err), Err: err})
	}
}
