package offsetstore

import (
	"context"
	"fmt"
	"sort"

	"gorm.io/gorm"
)

// Reading and moving stored positions, for tools (cmd/logpipe's offsets
// commands). Stop the consumers of a topic before moving its positions: a
// running consumer's next commit would find the row moved and stop with
// ErrOffsetMoved.

// KafkaPositions returns the rows of logpipe_kafkaoffset, of topic or of
// every topic when topic is "", sorted by topic and partition.
func KafkaPositions(ctx context.Context, db *gorm.DB, topic string) ([]KafkaOffset, error) {
	var rows []KafkaOffset
	q := db.WithContext(ctx).Model(&KafkaOffset{})
	if topic != "" {
		q = q.Where("topic = ?", topic)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: read %s: %w", KafkaOffset{}.TableName(), err)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Topic != rows[j].Topic {
			return rows[i].Topic < rows[j].Topic
		}
		return rows[i].Partition < rows[j].Partition
	})
	return rows, nil
}

// KinesisPositions returns the rows of logpipe_kinesisoffset, of stream or
// of every stream when stream is "", sorted by region, stream and shard.
func KinesisPositions(ctx context.Context, db *gorm.DB, stream string) ([]KinesisOffset, error) {
	var rows []KinesisOffset
	q := db.WithContext(ctx).Model(&KinesisOffset{})
	if stream != "" {
		q = q.Where("stream = ?", stream)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: read %s: %w", KinesisOffset{}.TableName(), err)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Stream != b.Stream {
			return a.Stream < b.Stream
		}
		return a.Shard < b.Shard
	})
	return rows, nil
}

// SetKafkaOffsets stores next (partition: the next offset to read) as the
// positions of topic's partitions in logpipe_kafkaoffset, in one
// transaction, adding the rows that are missing.
func SetKafkaOffsets(ctx context.Context, db *gorm.DB, topic string, next map[int32]int64) error {
	parts := make([]int32, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, p := range parts {
			if next[p] < 0 {
				return fmt.Errorf("partition %d: offset %d is negative", p, next[p])
			}
			res := tx.Model(&KafkaOffset{}).Where(map[string]any{"topic": topic, "partition": p}).Update("offset", next[p])
			if res.Error != nil {
				return fmt.Errorf("partition %d: %w", p, res.Error)
			}
			if res.RowsAffected == 0 {
				if err := tx.Create(&KafkaOffset{Topic: topic, Partition: p, Offset: next[p]}).Error; err != nil {
					return fmt.Errorf("partition %d: %w", p, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: set offsets of topic %q: %w", topic, err)
	}
	return nil
}
