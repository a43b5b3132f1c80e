// Package offsetstore keeps consumer positions in the application's database,
// in the two tables that django-logpipe's migrations create, so that a
// consumer can move between a Django app and a Go service and resume where
// the other stopped.
//
// The tables are logpipe_kafkaoffset (topic, partition, offset: the next
// offset to read) and logpipe_kinesisoffset (region, stream, shard,
// sequence_number: the last applied record). Migrate creates them when they
// are missing, with 64-bit offsets; tables created by Django (32-bit offsets)
// are read and written as they are. Those tables hold the unnamed consumer's
// positions; a named consumer (two consumers of one topic sharing a
// database) keeps its own in logpipe_consumer_offset, and group assignment
// fences partitions in logpipe_partition_owner, both logpipe's own.
package offsetstore

// KafkaOffset is a row of logpipe_kafkaoffset: the next offset to read from a
// Kafka (or in-memory) topic partition.
type KafkaOffset struct {
	ID        int64  `gorm:"primaryKey;autoIncrement"`
	Topic     string `gorm:"size:200;not null;uniqueIndex:logpipe_kafkaoffset_topic_partition_uniq,priority:1"`
	Partition int32  `gorm:"column:partition;not null;uniqueIndex:logpipe_kafkaoffset_topic_partition_uniq,priority:2"`
	// Offset is the committed record's offset plus one.
	Offset int64 `gorm:"column:offset;not null;default:0"`
}

// TableName returns "logpipe_kafkaoffset", the original's table.
func (KafkaOffset) TableName() string { return "logpipe_kafkaoffset" }

// KinesisOffset is a row of logpipe_kinesisoffset: the sequence number of the
// last record applied from a Kinesis shard.
type KinesisOffset struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	Region         string `gorm:"size:20;not null;uniqueIndex:logpipe_kinesisoffset_region_stream_shard_uniq,priority:1"`
	Stream         string `gorm:"size:200;not null;uniqueIndex:logpipe_kinesisoffset_region_stream_shard_uniq,priority:2"`
	Shard          string `gorm:"size:200;not null;uniqueIndex:logpipe_kinesisoffset_region_stream_shard_uniq,priority:3"`
	SequenceNumber string `gorm:"column:sequence_number;size:200;not null"`
}

// TableName returns "logpipe_kinesisoffset", the original's table.
func (KinesisOffset) TableName() string { return "logpipe_kinesisoffset" }
