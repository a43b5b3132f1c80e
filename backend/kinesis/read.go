package kinesis

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/logpipe-go/logpipe/backend"
)

// read gets one page of s, at most FetchLimit records, and updates what the
// consumer knows of s. Errors are logged and turn into a later retry of s.
func (c *Consumer) read(ctx context.Context, s *shard) []backend.Record {
	s.readAt = time.Now().Add(minReadInterval)
	if s.iterator == "" {
		if !c.renew(ctx, s) {
			return nil
		}
	}
	out, err := c.api.GetRecords(ctx, &kinesis.GetRecordsInput{
		ShardIterator: aws.String(s.iterator),
		Limit:         aws.Int32(c.cfg.FetchLimit),
	}, noSDKRetries)
	s.readAt = time.Now().Add(minReadInterval)
	if err != nil {
		var expired *types.ExpiredIteratorException
		if errors.As(err, &expired) {
			// Iterators last five minutes; start a new one after the
			// last record handed out.
			c.log.Debug("logpipe/kinesis: shard iterator expired; renewing", "shard", s.id, "after", s.after)
			s.iterator = ""
			return nil
		}
		c.failed(ctx, s, "get records", err)
		return nil
	}
	s.retry.reset()
	now := time.Now()
	behind := time.Duration(aws.ToInt64(out.MillisBehindLatest)) * time.Millisecond
	recs := make([]backend.Record, 0, len(out.Records))
	for _, r := range out.Records {
		// ApproximateArrivalTimestamp is the time Kinesis received this
		// very record; MillisBehindLatest only says how far the whole page
		// is behind the tip. It is the fallback when a record lacks it.
		ts := now.Add(-behind)
		if r.ApproximateArrivalTimestamp != nil {
			ts = *r.ApproximateArrivalTimestamp
		}
		recs = append(recs, backend.Record{
			Position:  backend.Position{Topic: c.stream, Shard: s.id, SequenceNumber: aws.ToString(r.SequenceNumber)},
			Key:       []byte(aws.ToString(r.PartitionKey)),
			Value:     r.Data,
			Timestamp: ts,
		})
	}
	if len(recs) > 0 {
		s.after = recs[len(recs)-1].SequenceNumber
	}
	s.atTip = len(recs) == 0 && behind == 0
	s.iterator = aws.ToString(out.NextShardIterator)
	if s.iterator == "" {
		// The shard is closed and read to its end: its children may be
		// read once every one of their parents is.
		s.ended = true
		s.atTip = true
		for _, ch := range out.ChildShards {
			c.add(aws.ToString(ch.ShardId), ch.ParentShards, types.ShardIteratorTypeTrimHorizon)
		}
		if len(out.ChildShards) == 0 {
			c.syncSoon = true
		}
		c.log.Debug("logpipe/kinesis: shard read to its end", "shard", s.id, "children", len(out.ChildShards))
	}
	return recs
}

// renew gets a new iterator for s: after the last record handed out (or
// the stored position), else at s.start. It reports success.
func (c *Consumer) renew(ctx context.Context, s *shard) bool {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(c.stream), ShardId: aws.String(s.id)}
	if s.after != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(s.after)
	} else {
		in.ShardIteratorType = s.start
	}
	out, err := c.api.GetShardIterator(ctx, in, noSDKRetries)
	if err != nil {
		c.failed(ctx, s, "get shard iterator", err)
		return false
	}
	s.iterator = aws.ToString(out.ShardIterator)
	if s.iterator == "" {
		c.failed(ctx, s, "get shard iterator", errors.New("the response has no iterator"))
		return false
	}
	return true
}

// failed logs a failed call on s and delays its next read. The shard stays in
// the pool: the read is retried, however often it fails.
func (c *Consumer) failed(ctx context.Context, s *shard, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.atTip = false
	s.readAt = time.Now().Add(s.retry.next())
	var notFound *types.ResourceNotFoundException
	switch {
	case isThrottle(err):
		c.log.Debug("logpipe/kinesis: throttled; backing off", "shard", s.id, "call", what, "retry_at", s.readAt)
	case errors.As(err, &notFound):
		c.syncSoon = true
		c.log.Warn("logpipe/kinesis: shard not found; listing shards again", "shard", s.id, "call", what, "error", err)
	default:
		c.log.Warn("logpipe/kinesis: call failed; will retry", "shard", s.id, "call", what, "error", err, "retry_at", s.readAt)
	}
}
