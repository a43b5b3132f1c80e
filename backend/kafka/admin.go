package kafka

import (
	"context"
	"fmt"
	"sort"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// PartitionOffsets is where a partition's log starts and ends.
type PartitionOffsets struct {
	// Partition is the partition id.
	Partition int32
	// Earliest is the first offset still in the log (the log start).
	Earliest int64
	// Latest is the offset the next record written will get (the high
	// watermark): a consumer at Latest has read everything.
	Latest int64
}

// Offsets returns the earliest and latest offsets of every partition of
// topic, in partition order, for tools (cmd/logpipe's offsets commands)
// and health checks. It connects with the backend's configuration (TLS,
// SASL) and closes the connection before it returns. A topic that does not
// exist is a *MissingTopicError.
func (b *Backend) Offsets(ctx context.Context, topic string) ([]PartitionOffsets, error) {
	return b.listOffsets(ctx, topic, func(conn *conn, parts []int) ([]PartitionOffsets, error) {
		first, err := listOffsets(ctx, conn, topic, parts, kafkago.FirstOffset)
		if err != nil {
			return nil, err
		}
		last, err := listOffsets(ctx, conn, topic, parts, kafkago.LastOffset)
		if err != nil {
			return nil, err
		}
		out := make([]PartitionOffsets, len(parts))
		for i, p := range parts {
			out[i] = PartitionOffsets{Partition: int32(p), Earliest: first[int32(p)], Latest: last[int32(p)]}
		}
		return out, nil
	})
}

// OffsetsAt returns, for every partition of topic, the first offset whose
// record's timestamp is at or after t, or the latest offset when there is
// none (as kafka-consumer-groups.sh --to-datetime does).
func (b *Backend) OffsetsAt(ctx context.Context, topic string, t time.Time) ([]PartitionOffsets, error) {
	return b.listOffsets(ctx, topic, func(conn *conn, parts []int) ([]PartitionOffsets, error) {
		at, err := listOffsets(ctx, conn, topic, parts, t.UnixMilli())
		if err != nil {
			return nil, err
		}
		last, err := listOffsets(ctx, conn, topic, parts, kafkago.LastOffset)
		if err != nil {
			return nil, err
		}
		out := make([]PartitionOffsets, len(parts))
		for i, p := range parts {
			o := at[int32(p)]
			if o < 0 {
				o = last[int32(p)]
			}
			out[i] = PartitionOffsets{Partition: int32(p), Earliest: o, Latest: last[int32(p)]}
		}
		return out, nil
	})
}

func (b *Backend) listOffsets(ctx context.Context, topic string, fn func(*conn, []int) ([]PartitionOffsets, error)) ([]PartitionOffsets, error) {
	if err := b.cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newConn(b.cfg.withDefaults())
	if err != nil {
		return nil, err
	}
	defer c.close()
	parts, err := c.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	out, err := fn(c, parts)
	if err != nil {
		return nil, fmt.Errorf("logpipe/kafka: list offsets of topic %q: %w", topic, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// listOffsets asks for one offset of each partition: kafkago.FirstOffset,
// kafkago.LastOffset, or a timestamp in milliseconds (then -1 for a
// partition with no record at or after it).
func listOffsets(ctx context.Context, c *conn, topic string, parts []int, ts int64) (map[int32]int64, error) {
	reqs := make([]kafkago.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = kafkago.OffsetRequest{Partition: p, Timestamp: ts}
	}
	res, err := c.client(c.cfg.RequestTimeout).ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		switch ts {
		case kafkago.FirstOffset:
			out[int32(p.Partition)] = p.FirstOffset
		case kafkago.LastOffset:
			out[int32(p.Partition)] = p.LastOffset
		default:
			out[int32(p.Partition)] = -1
			for o := range p.Offsets {
				out[int32(p.Partition)] = o
			}
		}
	}
	for _, p := range parts {
		if _, ok := out[int32(p)]; !ok {
			return nil, fmt.Errorf("partition %d: not in the response", p)
		}
	}
	return out, nil
}
