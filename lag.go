package logpipe

import (
	"sort"
	"time"
)

// PartitionLag is how far a consumer is behind the end of one partition
// (Kafka, memory) or shard (Kinesis).
type PartitionLag struct {
	// Topic is the topic or stream.
	Topic string `json:"topic"`
	// Partition is the partition; zero for Kinesis.
	Partition int32 `json:"partition"`
	// Shard is the Kinesis shard; empty for Kafka.
	Shard string `json:"shard,omitempty"`
	// Next is the offset of the next record to apply: the last committed
	// plus one, or the first fetched this run, or where the backend is
	// reading. -1 when not known (Kinesis, or no fetch answered yet).
	Next int64 `json:"next"`
	// End is the partition's end, the offset the next record written will
	// get (Kafka: the high watermark of the last fetch response). -1 when
	// not known.
	End int64 `json:"end"`
	// Records is End - Next, the records written and not applied yet; -1
	// when not known (Kinesis counts no records: see Behind).
	Records int64 `json:"records"`
	// Behind is, on Kinesis, the shard's MillisBehindLatest in its last
	// GetRecords: how old the newest record handed to the consumer is
	// compared with the tip (0: at the tip). Zero on Kafka.
	Behind time.Duration `json:"behind_ns"`
}

// Lag returns how far the consumer is behind on each partition or shard it
// reads, from what its fetches learned (no request is made): Kafka's fetch
// responses carry each partition's high watermark, Kinesis' GetRecords its
// MillisBehindLatest. It is safe to call from any goroutine, at any time (a
// health check); it returns nil before Run's first fetch, and what the last
// run learned after Run returns. Figures are as fresh as the last fetch of
// each partition, about one poll interval when idle.
//
// A partition whose Records is large and growing, or a shard whose Behind
// grows, is falling behind; both are 0 for a consumer that is keeping up.
// The entries are sorted by partition or shard.
func (c *Consumer) Lag() []PartitionLag { return c.obs.lag() }

// lag computes Consumer.Lag.
func (o *consumerObs) lag() []PartitionLag {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ends == nil {
		return nil
	}
	out := make([]PartitionLag, len(o.ends))
	for i, e := range o.ends {
		l := PartitionLag{Topic: e.Topic, Partition: e.Partition, Shard: e.Shard, Next: e.Next, End: e.End, Records: -1, Behind: e.Behind}
		if e.Shard == "" {
			if n, ok := o.next[e.Partition]; ok {
				l.Next = n
			}
		}
		if l.End >= 0 && l.Next >= 0 {
			l.Records = max(l.End-l.Next, 0)
		}
		out[i] = l
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Shard != out[j].Shard {
			return out[i].Shard < out[j].Shard
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}
