package offsetstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Kafka reads and writes logpipe_kafkaoffset. The zero value is not usable;
// set DB.
type Kafka struct {
	// DB is the application's database.
	DB *gorm.DB
}

// Load returns the next offset to read for each partition of topic that has a
// stored position.
func (s Kafka) Load(ctx context.Context, topic string) (map[int32]int64, error) {
	var rows []KafkaOffset
	if err := s.DB.WithContext(ctx).Where("topic = ?", topic).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: load offsets of topic %q: %w", topic, err)
	}
	out := make(map[int32]int64, len(rows))
	for _, r := range rows {
		out[r.Partition] = r.Offset
	}
	return out, nil
}

// Commit stores next as the next offset to read from topic's partition. It
// writes through tx when tx is not nil, so that the position commits with the
// application's own writes, else through s.DB.
func (s Kafka) Commit(ctx context.Context, tx *gorm.DB, topic string, partition int32, next int64) error {
	db := tx
	if db == nil {
		db = s.DB
	}
	row := KafkaOffset{Topic: topic, Partition: partition, Offset: next}
	err := db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "topic"}, {Name: "partition"}},
		DoUpdates: clause.AssignmentColumns([]string{"offset"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: commit offset %d of %s/%d: %w", next, topic, partition, err)
	}
	return nil
}

// Kinesis reads and writes logpipe_kinesisoffset for one AWS region.
type Kinesis struct {
	// DB is the application's database.
	DB *gorm.DB
	// Region is the AWS region of the streams, part of the table's key.
	Region string
}

// Load returns the last applied sequence number of each shard of stream that
// has a stored position.
func (s Kinesis) Load(ctx context.Context, stream string) (map[string]string, error) {
	var rows []KinesisOffset
	err := s.DB.WithContext(ctx).Where("region = ? AND stream = ?", s.Region, stream).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: load positions of stream %q: %w", stream, err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Shard] = r.SequenceNumber
	}
	return out, nil
}

// Commit stores seq as the last applied sequence number of stream's shard,
// through tx when tx is not nil, else through s.DB.
func (s Kinesis) Commit(ctx context.Context, tx *gorm.DB, stream, shard, seq string) error {
	db := tx
	if db == nil {
		db = s.DB
	}
	row := KinesisOffset{Region: s.Region, Stream: stream, Shard: shard, SequenceNumber: seq}
	err := db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "region"}, {Name: "stream"}, {Name: "shard"}},
		DoUpdates: clause.AssignmentColumns([]string{"sequence_number"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: commit position %s of %s/%s: %w", seq, stream, shard, err)
	}
	return nil
}
