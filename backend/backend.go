// Package backend defines what a transport (Kafka, Kinesis, the in-memory
// broker) implements for logpipe. Users do not call these interfaces; they
// hold *logpipe.Producer and *logpipe.Consumer, which drive a backend the way
// database/sql drives a driver.
//
// A backend has two halves: a Producer that writes one record (or a batch)
// and reports where it went, and a Consumer that fetches records from every
// partition (Kafka) or shard (Kinesis) of one topic or stream, resuming from
// stored positions, and commits a record's position once it has been applied.
package backend

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Position says where a record is: a Kafka (or in-memory) topic, partition and
// offset, or a Kinesis stream, shard and sequence number.
type Position struct {
	// Topic is the Kafka topic or the Kinesis stream name.
	Topic string
	// Partition is the Kafka partition. It is zero for Kinesis.
	Partition int32
	// Offset is the Kafka offset. It is zero for Kinesis.
	Offset int64
	// Shard is the Kinesis shard id; empty for Kafka.
	Shard string
	// SequenceNumber is the Kinesis sequence number; empty for Kafka.
	SequenceNumber string
}

// String renders the position as "topic/partition@offset" for Kafka and
// "stream/shard@sequence" for Kinesis, for logs and error messages.
func (p Position) String() string {
	if p.Shard != "" {
		return fmt.Sprintf("%s/%s@%s", p.Topic, p.Shard, p.SequenceNumber)
	}
	return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset)
}

// Message is one record to send.
type Message struct {
	// Topic is the Kafka topic or Kinesis stream.
	Topic string
	// Key is the record key (Kafka) or partition key (Kinesis). Empty means
	// no key: Kafka may use any partition; Kinesis backends substitute a
	// random partition key, since Kinesis requires one.
	Key []byte
	// Value is the rendered envelope, "json:{...}" or "msgpack:...".
	Value []byte
}

// Record is one record read from a topic or stream.
type Record struct {
	Position
	Key       []byte
	Value     []byte
	Timestamp time.Time
}

// Producer sends records. Implementations are safe for concurrent use.
type Producer interface {
	// Send writes one record and returns once the broker has acknowledged
	// it, or the context ends.
	Send(ctx context.Context, m Message) (Position, error)
	// Close flushes anything pending and releases the producer. It is
	// idempotent.
	Close() error
}

// BatchProducer is implemented by producers with a faster path for many
// records at once. Records with the same key keep their order. The returned
// positions are in the order of msgs; on error, some records may have been
// written.
type BatchProducer interface {
	SendBatch(ctx context.Context, msgs []Message) ([]Position, error)
}

// Consumer reads one topic or stream. A Consumer is used by one goroutine at
// a time.
type Consumer interface {
	// Fetch returns the next records, in order within each partition or
	// shard. It returns an empty slice (and nil error) when nothing arrived
	// within the backend's poll interval, so that the caller can check its
	// idle timeout; it never blocks longer than about a second past that.
	// It returns ctx.Err() when the context ends.
	Fetch(ctx context.Context) ([]Record, error)
	// Commit records that rec has been applied, so that reading resumes
	// after it. When tx is not nil the position is written in that
	// database transaction, together with whatever the application saved.
	Commit(ctx context.Context, tx *gorm.DB, rec Record) error
	// Close releases the consumer. It is idempotent.
	Close() error
}

// OutsideTransaction is implemented by a Consumer whose positions are not
// kept in the application's database (Kafka consumer-group offsets). The
// caller then calls Commit with a nil tx after the record's transaction has
// committed, which makes delivery at-least-once rather than exactly-once.
type OutsideTransaction interface {
	CommitsOutsideTransaction() bool
}

// IdleAware is implemented by a Consumer that decides for itself when it is
// idle (Kinesis: every shard at its tip). Idle reports whether the most
// recent empty Fetch found the stream fully read.
type IdleAware interface {
	Idle() bool
}

// OffsetStore keeps the next offset to read of each partition of a topic,
// for the backends with numbered partitions (Kafka, memory).
// offsetstore.Kafka (the logpipe_kafkaoffset table) implements it.
type OffsetStore interface {
	// Load returns the next offset to read of each partition of topic that
	// has one stored.
	Load(ctx context.Context, topic string) (map[int32]int64, error)
	// Commit stores next as the next offset to read of topic's partition,
	// through tx when it is not nil.
	Commit(ctx context.Context, tx *gorm.DB, topic string, partition int32, next int64) error
}
