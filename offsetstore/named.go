package offsetstore

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
)

// ConsumerOffset is a row of logpipe_consumer_offset: the position of a
// named consumer (backend.ConsumerOptions.Name, logpipe.WithName) in a Kafka
// partition or a Kinesis shard. Two consumers of one topic that share a
// database (an indexer and a billing service) keep separate positions here;
// the unnamed default keeps its positions in django-logpipe's tables
// (logpipe_kafkaoffset, logpipe_kinesisoffset), which Django reads too.
//
// A Kafka row has Region and Shard empty and Offset set (the next offset to
// read, as in logpipe_kafkaoffset); a Kinesis row has Partition 0 and
// Region, Shard and SequenceNumber set (the last record applied).
type ConsumerOffset struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	Consumer string `gorm:"size:200;not null;uniqueIndex:logpipe_consumer_offset_uniq,priority:1"`
	Region   string `gorm:"size:20;not null;default:'';uniqueIndex:logpipe_consumer_offset_uniq,priority:2"`
	// Topic is the Kafka topic or the Kinesis stream.
	Topic     string `gorm:"size:200;not null;uniqueIndex:logpipe_consumer_offset_uniq,priority:3"`
	Partition int32  `gorm:"column:partition;not null;default:0;uniqueIndex:logpipe_consumer_offset_uniq,priority:4"`
	Shard     string `gorm:"size:200;not null;default:'';uniqueIndex:logpipe_consumer_offset_uniq,priority:5"`
	// Offset is the committed record's offset plus one (Kafka).
	Offset int64 `gorm:"column:offset;not null;default:0"`
	// SequenceNumber is the committed record's sequence number (Kinesis).
	SequenceNumber string `gorm:"column:sequence_number;size:200;not null;default:''"`
}

// TableName returns "logpipe_consumer_offset".
func (ConsumerOffset) TableName() string { return "logpipe_consumer_offset" }

// consumerOffsetKey are the columns of logpipe_consumer_offset's unique key,
// in its order.
var consumerOffsetKey = []string{"consumer", "region", "topic", "partition", "shard"}

// createConsumerTables is migration 4: the named consumers' positions and
// the partition owners of group assignment.
func createConsumerTables(tx *gorm.DB) error {
	m := tx.Migrator()
	for _, model := range []any{&ConsumerOffset{}, &PartitionOwner{}} {
		if m.HasTable(model) {
			continue
		}
		if err := m.CreateTable(model); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	}
	return nil
}

// loadNamed reads a named consumer's rows of topic (a Kinesis stream when
// region is set).
func loadNamed(ctx context.Context, db *gorm.DB, consumer, region, topic string) ([]ConsumerOffset, error) {
	var rows []ConsumerOffset
	err := db.WithContext(ctx).Where("consumer = ? AND region = ? AND topic = ?", consumer, region, topic).Find(&rows).Error
	if err != nil {
		if !db.Migrator().HasTable(&ConsumerOffset{}) {
			return nil, fmt.Errorf("logpipe/offsetstore: load positions of consumer %q on %q: %w", consumer, topic, ErrNoConsumerOffsetTable)
		}
		return nil, fmt.Errorf("logpipe/offsetstore: load positions of consumer %q on %q: %w", consumer, topic, err)
	}
	return rows, nil
}

// ErrNoConsumerOffsetTable is returned for a named consumer when
// logpipe_consumer_offset is missing: run Migrate.
var ErrNoConsumerOffsetTable = errors.New("logpipe/offsetstore: the logpipe_consumer_offset table does not exist: run offsetstore.Migrate (or `logpipe migrate`)")

// kafkaLoad returns a Kafka store's rows of topic for consumer, as next
// offsets by partition: from logpipe_kafkaoffset for the unnamed consumer,
// else from logpipe_consumer_offset.
func (s *Kafka) kafkaLoad(ctx context.Context, db *gorm.DB, consumer, topic string) (map[int32]int64, error) {
	out := map[int32]int64{}
	if consumer == "" {
		var rows []KafkaOffset
		if err := db.WithContext(ctx).Where("topic = ?", topic).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("logpipe/offsetstore: load offsets of topic %q: %w", topic, err)
		}
		for _, r := range rows {
			out[r.Partition] = r.Offset
		}
		return out, nil
	}
	rows, err := loadNamed(ctx, db, consumer, "", topic)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.Partition] = r.Offset
	}
	return out, nil
}

// kafkaRow returns the row, key columns and key values of c's position,
// which holds next, in the table of c's consumer.
func kafkaRow(c backend.Checkpoint, next int64) (row any, keyCols []string, keyVals []any) {
	if c.Consumer == "" {
		return &KafkaOffset{Topic: c.Topic, Partition: c.Partition, Offset: next},
			[]string{"topic", "partition"}, []any{c.Topic, c.Partition}
	}
	return &ConsumerOffset{Consumer: c.Consumer, Topic: c.Topic, Partition: c.Partition, Offset: next},
		consumerOffsetKey, []any{c.Consumer, "", c.Topic, c.Partition, ""}
}

// kinesisRow is kafkaRow for a Kinesis shard of region.
func kinesisRow(c backend.Checkpoint, region string) (row any, keyCols []string, keyVals []any) {
	if c.Consumer == "" {
		return &KinesisOffset{Region: region, Stream: c.Topic, Shard: c.Shard, SequenceNumber: c.SequenceNumber},
			[]string{"region", "stream", "shard"}, []any{region, c.Topic, c.Shard}
	}
	return &ConsumerOffset{Consumer: c.Consumer, Region: region, Topic: c.Topic, Shard: c.Shard, SequenceNumber: c.SequenceNumber},
		consumerOffsetKey, []any{c.Consumer, region, c.Topic, int32(0), c.Shard}
}
