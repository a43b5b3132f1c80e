package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	kafkago "github.com/segmentio/kafka-go"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// partitionReader fetches one partition in a loop and hands its records, in
// order, to the Consumer.
type partitionReader struct {
	c         *Consumer
	partition int32
	offset    int64 // next offset to fetch, or kafkago.FirstOffset; owned by run
	maxBytes  int   // the next fetch's size (see nextFetchSize); owned by run
	fence     int64 // the fencing token of its records' commits (group assignment)
	ctx       context.Context
	cancel    context.CancelFunc
	stopped   atomic.Bool
	ends      readerEnds // the last fetch response's high watermark; see ops.go
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
			r.c.conn.refreshMetadata()
		}
		if !retriable(err) {
			r.c.report(fmt.Errorf("logpipe/kafka: read %s/%d: %w", r.c.topic, r.partition, err))
		}
		_ = wait.Sleep(r.ctx, retryDelay.Delay(failures)) // the caller checks ctx
	}
}

// fetch reads one response's committed records into the consumer's
// channel, copying each out of the response as the channel takes it. The
// request is limited to PollInterval (the broker's wait) plus
// RequestTimeout, so that a connection that stopped answering is given up.
func (r *partitionReader) fetch() error {
	c := r.c
	if r.offset < 0 {
		first, err := r.earliest()
		if err != nil {
			return err
		}
		r.offset = first
	}
	ctx, cancel := context.WithTimeout(r.ctx, c.cfg.PollInterval+c.cfg.RequestTimeout)
	defer cancel()
	if r.maxBytes == 0 {
		r.maxBytes = nextFetchSize(c.cfg.FetchMaxBytes, batchStats{})
	}
	msg, err := c.conn.roundTrip(ctx, &fetchAPI.Request{
		ReplicaID:      -1,
		MaxWaitTime:    int32(c.cfg.PollInterval.Milliseconds()),
		MinBytes:       1,
		MaxBytes:       int32(r.maxBytes),
		IsolationLevel: int8(kafkago.ReadCommitted),
		SessionID:      -1,
		SessionEpoch:   -1,
		Topics: []fetchAPI.RequestTopic{{
			Topic: c.topic,
			Partitions: []fetchAPI.RequestPartition{{
				Partition:          r.partition,
				CurrentLeaderEpoch: -1,
				FetchOffset:        r.offset,
				LogStartOffset:     -1,
				PartitionMaxBytes:  int32(r.maxBytes),
			}},
		}},
	})
	if err != nil {
		return err
	}
	res, ok := msg.(*fetchAPI.Response)
	if !ok || len(res.Topics) == 0 || len(res.Topics[0].Partitions) == 0 {
		return fmt.Errorf("logpipe/kafka: fetch of %s/%d: response holds no partition", c.topic, r.partition)
	}
	if res.ErrorCode != 0 {
		return kafkago.Error(res.ErrorCode)
	}
	part := &res.Topics[0].Partitions[0]
	if part.ErrorCode != 0 {
		return kafkago.Error(part.ErrorCode)
	}
	next, stats, err := scanCommitted(part, r.offset, func(rec rawRecord) error {
		out := fetched{r: r, rec: backend.Record{
			Position:  backend.Position{Topic: c.topic, Partition: r.partition, Offset: rec.offset},
			Key:       rec.key,
			Value:     rec.value,
			Headers:   rec.headers,
			Timestamp: rec.ts,
		}}
		select {
		case c.recs <- out:
			r.offset = rec.offset + 1
			return nil
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	})
	if err != nil {
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		return fmt.Errorf("logpipe/kafka: decode records of %s/%d at offset %d: %w", c.topic, r.partition, r.offset, err)
	}
	switch {
	case stats.batches > 0:
		r.maxBytes = nextFetchSize(c.cfg.FetchMaxBytes, stats)
	case part.LastStableOffset > r.offset:
		// Committed records are there but no whole batch came back (a
		// broker returns a first batch larger than asked whole, but not
		// every Kafka-compatible one may): ask for more next time.
		r.maxBytes = min(c.cfg.FetchMaxBytes, 2*r.maxBytes)
	}
	r.offset = max(r.offset, next)
	r.noteEnd(part.HighWatermark)
	return nil
}

// decodePageSize is what kafka-go's decoder takes for each record batch of
// a fetch response, however small the batch: it reads each batch into a
// page buffer of its own, made of 64 KiB pages (protocol.pageSize, not
// exported). A response of one-record batches thus takes hundreds of times
// its size while it is decoded: a 1 MiB response of 300-byte batches, 220
// MiB.
const decodePageSize = 64 << 10

// minBatchSize is the smallest a v2 record batch can be: its header and one
// record with neither key nor value.
const minBatchSize = batchOverhead + 8

// nextFetchSize returns the bytes to ask for in the next fetch of a
// partition, so that kafka-go's decoding of the response takes about
// fetchMax bytes of pages: fetchMax/64 KiB batches (at least one) of the size
// of the smallest batch of the previous response (stats), and never more
// than fetchMax bytes. Before any response, it assumes the smallest possible
// batches; the broker returns a first batch larger than the size asked for
// whole, so a partition of large batches is read one batch per fetch until
// the next size follows it.
func nextFetchSize(fetchMax int, stats batchStats) int {
	batches := max(1, fetchMax/decodePageSize)
	smallest := minBatchSize
	if stats.batches > 0 {
		smallest = max(stats.smallest, minBatchSize)
	}
	return min(fetchMax, batches*smallest)
}

// earliest returns the partition's first offset.
func (r *partitionReader) earliest() (int64, error) {
	c := r.c
	res, err := c.conn.client(c.cfg.RequestTimeout).ListOffsets(r.ctx, &kafkago.ListOffsetsRequest{
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
