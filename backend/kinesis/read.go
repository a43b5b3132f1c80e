package kinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/logpipe-go/logpipe/backend"
)

// read gets one page of s, at most FetchLimit records, and updates what the
// consumer knows of s. Transient errors are logged and turn into a later
// retry of s; other errors are retried once, then returned (see failed).
//
// The records returned have moved s past them: the caller must hand them
// out even if ctx has ended meanwhile, or they would be skipped.
func (c *Consumer) read(ctx context.Context, s *shard) ([]backend.Record, error) {
	s.readAt = time.Now().Add(minReadInterval)
	if s.iterator == "" {
		if err := c.renew(ctx, s); err != nil {
			return nil, err
		}
		if s.iterator == "" {
			return nil, nil
		}
	}
	out, err := withTimeout(ctx, c.cfg.RequestTimeout, func(ctx context.Context) (*kinesis.GetRecordsOutput, error) {
		return c.api.GetRecords(ctx, &kinesis.GetRecordsInput{
			ShardIterator: aws.String(s.iterator),
			Limit:         aws.Int32(c.cfg.FetchLimit),
		}, noSDKRetries)
	})
	s.readAt = time.Now().Add(minReadInterval)
	if err != nil {
		var expired *types.ExpiredIteratorException
		if errors.As(err, &expired) {
			// Iterators last five minutes; start a new one after the
			// last record handed out.
			c.log.Debug("logpipe/kinesis: shard iterator expired; renewing", "shard", s.id, "after", s.after)
			s.iterator = ""
			return nil, nil
		}
		return nil, c.failed(ctx, s, "get records", err)
	}
	s.failures = 0
	s.retry.Reset()
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
	s.behind = behind
	s.iterator = aws.ToString(out.NextShardIterator)
	if s.iterator == "" {
		// The shard is closed and read to its end: its children may be
		// read once every one of their parents is.
		s.ended = true
		s.atTip = true
		for _, ch := range out.ChildShards {
			if c.leases == nil { // else leased once this shard is finished
				c.add(aws.ToString(ch.ShardId), ch.ParentShards, types.ShardIteratorTypeTrimHorizon)
			}
		}
		if len(out.ChildShards) == 0 {
			c.syncSoon = true
		}
		c.log.Debug("logpipe/kinesis: shard read to its end", "shard", s.id, "children", len(out.ChildShards))
	}
	return recs, nil
}

// renew gets a new iterator for s: after the last record handed out (or
// the stored position), else at s.start. On a failure s.iterator stays
// empty, and the error is returned only when failed says so.
func (c *Consumer) renew(ctx context.Context, s *shard) error {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(c.stream), ShardId: aws.String(s.id)}
	if s.after != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(s.after)
	} else {
		in.ShardIteratorType = s.start
	}
	out, err := withTimeout(ctx, c.cfg.RequestTimeout, func(ctx context.Context) (*kinesis.GetShardIteratorOutput, error) {
		return c.api.GetShardIterator(ctx, in, noSDKRetries)
	})
	if err == nil && aws.ToString(out.ShardIterator) == "" {
		err = errors.New("the response has no iterator")
	}
	if err != nil {
		return c.failed(ctx, s, "get shard iterator", err)
	}
	s.iterator = aws.ToString(out.ShardIterator)
	return nil
}

// failed handles a failed call on s and delays its next read; it returns the
// error Fetch is to return, or nil to go on.
//
// Throttling and transient errors (timeouts, 5xx, broken connections) are
// retried with backoff however often they happen: they go away, and the
// shard is never dropped. Any other error (access denied, an invalid stored
// sequence number, ...) would come back every time, and retrying it forever
// would hide it and keep the consumer from ever being idle; as in
// django-logpipe it is logged and retried once, then returned, naming the
// stream and shard. A ResourceNotFoundException lists the shards at once:
// a missing stream is then a *MissingStreamError, and a shard no longer
// listed is marked gone and not read again.
func (c *Consumer) failed(ctx context.Context, s *shard, what string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	s.atTip = false
	s.readAt = time.Now().Add(s.retry.Next())
	if isTransient(err) {
		if isThrottle(err) {
			c.log.Debug("logpipe/kinesis: throttled; backing off", "shard", s.id, "call", what, "retry_at", s.readAt)
		} else {
			c.log.Warn("logpipe/kinesis: call failed; will retry", "shard", s.id, "call", what, "error", err, "retry_at", s.readAt)
		}
		return nil
	}
	if isNotFound(err) {
		c.log.Warn("logpipe/kinesis: shard not found; listing shards again", "shard", s.id, "call", what, "error", err)
		if serr := c.sync(ctx, types.ShardIteratorTypeTrimHorizon); serr != nil {
			var missing *MissingStreamError
			if errors.As(serr, &missing) {
				return serr
			}
			c.log.Warn("logpipe/kinesis: listing shards failed", "error", serr)
		}
		if s.done() {
			return nil
		}
	}
	s.failures++
	if s.failures > 1 {
		return fmt.Errorf("logpipe/kinesis: %s of stream %q shard %s failed twice: %w", what, c.stream, s.id, err)
	}
	c.log.Warn("logpipe/kinesis: call failed; will retry once", "shard", s.id, "call", what, "error", err, "retry_at", s.readAt)
	return nil
}
