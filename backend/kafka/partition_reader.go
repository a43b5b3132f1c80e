package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// partitionReader fetches one partition in a loop and hands its records, in
// order, to the Consumer.
type partitionReader struct {
	c         *Consumer
	partition int32
	offset    int64 // next offset to fetch, or kafkago.FirstOffset; owned by run
	ctx       context.Context
	cancel    context.CancelFunc
	stopped   atomic.Bool
}

func (r *partitionReader) active() bool { return !r.stopped.Load() }

func (r *partitionReader) run() {
	defer r.c.wg.Done()
	log := r.c.log.With("partition", r.partition)
	failures := 0
	for r.ctx.Err() == nil {
		err := r.fetch()
		if err == nil || r.ctx.Err() != nil {
			failures = 0
			continue
		}
		if errors.Is(err, kafkago.OffsetOutOfRange) {
			// The stored offset is gone (retention) or ahead of the log
			// (topic recreated): start again at the earliest offset.
			log.Warn("logpipe/kafka: offset out of range; reading from the earliest offset", "offset", r.offset)
			r.offset = kafkago.FirstOffset
			continue
		}
		failures++
		if failures == 1 || failures%20 == 0 {
			log.Warn("logpipe/kafka: fetch failed; trying again", "offset", r.offset, "failures", failures, "error", err)
		}
		if leaderChanged(err) {
			r.c.conn.refreshTopic(r.ctx, r.c.topic)
		}
		if !retriable(err) {
			r.c.report(fmt.Errorf("logpipe/kafka: read %s/%d: %w", r.c.topic, r.partition, err))
		}
		_ = wait.Sleep(r.ctx, backoff(failures)) // the caller checks ctx
	}
}

// fetch reads one response's records into the consumer's channel.
func (r *partitionReader) fetch() error {
	c := r.c
	if r.offset < 0 {
		first, err := r.earliest()
		if err != nil {
			return err
		}
		r.offset = first
	}
	resp, err := c.conn.client.Fetch(r.ctx, &kafkago.FetchRequest{
		Topic:     c.topic,
		Partition: int(r.partition),
		Offset:    r.offset,
		MinBytes:  1,
		MaxBytes:  int64(c.cfg.FetchMaxBytes),
		MaxWait:   c.cfg.PollInterval,
	})
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	for {
		rec, err := resp.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// A response starts at the beginning of a record batch, which may
		// be before the offset asked for.
		if rec.Offset < r.offset {
			continue
		}
		key, err := kafkago.ReadAll(rec.Key)
		if err != nil {
			return err
		}
		value, err := kafkago.ReadAll(rec.Value)
		if err != nil {
			return err
		}
		out := fetched{r: r, rec: backend.Record{
			Position:  backend.Position{Topic: c.topic, Partition: r.partition, Offset: rec.Offset},
			Key:       key,
			Value:     value,
			Timestamp: rec.Time,
		}}
		select {
		case c.recs <- out:
			r.offset = rec.Offset + 1
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
}

// earliest returns the partition's first offset.
func (r *partitionReader) earliest() (int64, error) {
	c := r.c
	res, err := c.conn.client.ListOffsets(r.ctx, &kafkago.ListOffsetsRequest{
		Topics: map[string][]kafkago.OffsetRequest{c.topic: {kafkago.FirstOffsetOf(int(r.partition))}},
	})
	if err != nil {
		return 0, err
	}
	for _, p := range res.Topics[c.topic] {
		if p.Partition == int(r.partition) {
			if p.Error != nil {
				return 0, p.Error
			}
			return p.FirstOffset, nil
		}
	}
	return 0, fmt.Errorf("logpipe/kafka: no first offset in the response for %s/%d", c.topic, r.partition)
}
