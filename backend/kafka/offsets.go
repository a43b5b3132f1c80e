package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/backoff"
)

// OffsetStore keeps the last applied offset of each partition of a topic;
// offsetstore.Kafka (the logpipe_kafkaoffset table) implements it.
type OffsetStore = backend.OffsetStore

var _ OffsetStore = groupOffsets{}

// groupOffsets keeps offsets as a Kafka consumer group's committed offsets,
// like the original's KafkaOffsetStore. It commits as a standalone member
// (generation -1): it does not join the group, so the group must not have
// active members of another client.
type groupOffsets struct {
	conn  *conn
	group string
}

// Load fetches the group's committed offsets of every partition of topic.
// The group is the consumer's identity, so the consumer name is not used.
func (g groupOffsets) Load(ctx context.Context, _, topic string) ([]backend.Position, error) {
	parts, err := g.conn.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	var res *kafkago.OffsetFetchResponse
	err = retryCoordinator(ctx, func() error {
		var err error
		res, err = g.conn.client(g.conn.cfg.RequestTimeout).OffsetFetch(ctx, &kafkago.OffsetFetchRequest{
			GroupID: g.group,
			Topics:  map[string][]int{topic: parts},
		})
		if err == nil {
			err = res.Error
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("logpipe/kafka: fetch offsets of group %q for topic %q: %w", g.group, topic, err)
	}
	var out []backend.Position
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("logpipe/kafka: fetch offset of group %q for %s/%d: %w", g.group, topic, p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out = append(out, backend.Position{Topic: topic, Partition: int32(p.Partition), Offset: p.CommittedOffset - 1})
		}
	}
	return out, nil
}

// Commit commits the offset after c for the group; tx is ignored, since the
// offset is not in the database.
func (g groupOffsets) Commit(ctx context.Context, _ *gorm.DB, c backend.Checkpoint) error {
	topic, partition, next := c.Topic, c.Partition, c.Offset+1
	err := retryCoordinator(ctx, func() error {
		res, err := g.conn.client(g.conn.cfg.RequestTimeout).OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
			GroupID:      g.group,
			GenerationID: -1,
			Topics:       map[string][]kafkago.OffsetCommit{topic: {{Partition: int(partition), Offset: next}}},
		})
		if err == nil {
			for _, p := range res.Topics[topic] {
				err = errors.Join(err, p.Error)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("logpipe/kafka: commit offset %d of %s/%d for group %q: %w", next, topic, partition, g.group, err)
	}
	return nil
}

// coordinatorRetryLimit bounds how long a group request waits for the
// group's coordinator to become available.
const coordinatorRetryLimit = 30 * time.Second

// retryCoordinator runs fn until it succeeds, fails with an error other than
// "the group coordinator is not ready here" (a new cluster creating
// __consumer_offsets, a coordinator moving after a broker restart), ctx ends,
// or coordinatorRetryLimit passes.
func retryCoordinator(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(coordinatorRetryLimit)
	b := backoff.Backoff{Policy: retryDelay}
	for {
		err := fn()
		if err == nil || !isCoordinatorNotReady(err) || time.Now().After(deadline) {
			return err
		}
		if werr := b.Wait(ctx); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

func isCoordinatorNotReady(err error) bool {
	return errors.Is(err, kafkago.NotCoordinatorForGroup) ||
		errors.Is(err, kafkago.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafkago.GroupLoadInProgress)
}
