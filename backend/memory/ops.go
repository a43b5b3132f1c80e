package memory

import "github.com/logpipe-go/logpipe/backend"

var _ backend.LagReporter = (*Consumer)(nil)

// Lag returns, for every partition of the topic, its end (the number of
// records written to it) and the next offset the consumer hands out. It
// implements backend.LagReporter and, like Fetch, is for one goroutine at a
// time.
func (c *Consumer) Lag() []backend.Lag {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	t, ok := c.b.topics[c.topic]
	if !ok {
		return nil
	}
	out := make([]backend.Lag, len(t.partitions))
	for p, part := range t.partitions {
		out[p] = backend.Lag{Topic: c.topic, Partition: int32(p), Next: c.next[int32(p)], End: int64(len(part))}
	}
	return out
}

// assigned reports the topic's partitions, which the consumer reads from
// its first Fetch on.
func (c *Consumer) assigned() {
	if c.onAssign == nil {
		return
	}
	c.b.mu.Lock()
	t, ok := c.b.topics[c.topic]
	var parts []int32
	if ok {
		for p := range t.partitions {
			parts = append(parts, int32(p))
		}
	}
	c.b.mu.Unlock()
	if len(parts) > 0 {
		c.onAssign(backend.Assignment{Topic: c.topic, Added: parts})
	}
}
