package backend

import "time"

// What a backend reports for monitoring (logpipe turns it into calls of the
// hooks in logpipe.Settings.Hooks). Every part is optional: a backend that
// reports nothing still works, with fewer metrics.

// Retry describes a send that a producer tries again (ProducerOptions.OnRetry).
type Retry struct {
	// Topic is the topic or stream.
	Topic string
	// Partition is the Kafka partition; Shard is empty then. Kinesis
	// backends leave both zero: the shard is not known before a write
	// succeeds.
	Partition int32
	// Shard is the Kinesis shard, when known.
	Shard string
	// Records is how many records the failed request held.
	Records int
	// Attempt is the attempt that failed, 1 for the first.
	Attempt int
	// Safe is true when the broker certainly wrote nothing (refused,
	// throttled), so that the retry cannot duplicate.
	Safe bool
	// Err is why the attempt failed.
	Err error
}

// Lag is what a consumer's fetches learned of one partition or shard: where
// it ends, and where the consumer is.
type Lag struct {
	// Topic is the topic or stream.
	Topic string
	// Partition is the Kafka (or in-memory) partition; zero for Kinesis.
	Partition int32
	// Shard is the Kinesis shard; empty for Kafka.
	Shard string
	// Next is the offset of the next record the consumer will hand out
	// (Kafka, memory), or -1 when not known yet.
	Next int64
	// End is the partition's high watermark, the offset the next record
	// written will get (Kafka, memory), or -1 when not known yet (no fetch
	// answered) or not applicable (Kinesis).
	End int64
	// Behind is, on Kinesis, the MillisBehindLatest of the shard's last
	// GetRecords: how far the last record handed out is behind the tip.
	// Zero on Kafka.
	Behind time.Duration
}

// LagReporter is implemented by a Consumer that learns from its fetches how
// far each partition or shard is behind its end (Kafka: the high watermark
// of every fetch response; Kinesis: MillisBehindLatest). logpipe calls Lag
// from the goroutine that calls Fetch, after each Fetch, so it needs no
// more locking than Fetch; it returns one entry per partition or shard
// being read, in any order.
type LagReporter interface {
	Lag() []Lag
}

// Assignment says which partitions or shards a consumer started or stopped
// reading (ConsumerOptions.OnAssign). The static mode reads every
// partition: it reports them once when it starts, and again for each
// partition added to the topic; Kinesis reports each shard as it starts
// reading it (children after their parents, after a reshard). Scale-out
// modes (consumer groups, leases) will report what they gain and lose.
type Assignment struct {
	// Topic is the topic or stream.
	Topic string
	// Added and Revoked are the partitions started and stopped (Kafka,
	// memory).
	Added, Revoked []int32
	// AddedShards and RevokedShards are the shards started and stopped
	// (Kinesis).
	AddedShards, RevokedShards []string
}
