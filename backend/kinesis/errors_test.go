package kinesis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// fetchUntilError fetches until Fetch returns an error, and returns it.
func fetchUntilError(t *testing.T, c *Consumer, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, err := c.Fetch(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "Fetch never returned the error")
			return err
		}
	}
}

// Review finding 4: an error that is not transient is retried once, then
// returned, naming the stream and shard.
func TestPermanentGetRecordsErrorIsReturnedAfterOneRetry(t *testing.T) {
	t.Parallel()
	f := newFakeStream().shard("A", false, nil, "a0")
	f.setBefore(func(_ context.Context, op, _ string) error {
		if op == "GetRecords" {
			return &types.AccessDeniedException{Message: aws.String("no kinesis:GetRecords")}
		}
		return nil
	})
	c := newFakeConsumer(t, fakeConfig(f), testenv.SQLite(t))
	err := fetchUntilError(t, c, 10*time.Second)
	var denied *types.AccessDeniedException
	require.ErrorAs(t, err, &denied)
	assert.Contains(t, err.Error(), `stream "s" shard A`)
	assert.Equal(t, 2, f.count("GetRecords"), "tried, then retried once")
	assert.False(t, c.Idle())
}

// A stored sequence number that is not in the shard (InvalidArgument) stops
// the consumer instead of being retried forever.
func TestInvalidStoredPositionIsReturned(t *testing.T) {
	t.Parallel()
	f := newFakeStream().shard("A", false, nil, "a0")
	db := testenv.SQLite(t)
	require.NoError(t, (&offsetstore.Kinesis{DB: db, Region: DefaultRegion}).Commit(context.Background(), nil, backend.Checkpoint{Position: backend.Position{Topic: "s", Shard: "A", SequenceNumber: "999"}}))
	c := newFakeConsumer(t, fakeConfig(f), db)
	err := fetchUntilError(t, c, 10*time.Second)
	var invalid *types.InvalidArgumentException
	require.ErrorAs(t, err, &invalid)
	assert.Contains(t, err.Error(), `stream "s" shard A`)
	assert.Equal(t, 2, f.count("GetShardIterator"))
}

// Throttling is retried however long it lasts; the shard is not dropped.
func TestThrottlingIsRetriedWithoutLimit(t *testing.T) {
	t.Parallel()
	f := newFakeStream().shard("A", false, nil, "a0")
	var throttled atomic.Int32
	f.setBefore(func(_ context.Context, op, _ string) error {
		if op == "GetRecords" && throttled.Add(1) <= 4 {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
		}
		return nil
	})
	c := newFakeConsumer(t, fakeConfig(f), testenv.SQLite(t))
	assert.Equal(t, []string{"a0"}, drain(t, c, 1, 30*time.Second))
	assert.Equal(t, 5, f.count("GetRecords"))
}

// A missing stream is a *MissingStreamError, from NewConsumer and, once the
// stream is deleted, from Fetch.
func TestMissingStreamIsTypedError(t *testing.T) {
	t.Parallel()
	notFound := func(_ context.Context, _, _ string) error {
		return &types.ResourceNotFoundException{Message: aws.String("Stream s under account 000000000000 not found.")}
	}
	f := newFakeStream().shard("A", false, nil, "a0", "a1")
	f.setBefore(notFound)
	_, err := NewConsumer(context.Background(), fakeConfig(f), ConsumerOptions{Topic: "s", DB: testenv.SQLite(t)})
	var missing *MissingStreamError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, "s", missing.Stream)
	assert.Equal(t, DefaultRegion, missing.Region)
	assert.Contains(t, err.Error(), `stream "s" does not exist in region us-east-1`)

	f.setBefore(nil)
	c := newFakeConsumer(t, fakeConfig(f), testenv.SQLite(t))
	assert.Equal(t, []string{"a0"}, drain(t, c, 1, 5*time.Second))
	f.setBefore(notFound)
	err = fetchUntilError(t, c, 10*time.Second)
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, "s", missing.Stream)
}

// Review finding 8: a call that hangs is abandoned after RequestTimeout and
// retried as a transient failure; ListShards, like every call, runs without
// the SDK's retries.
func TestHungCallsTimeOut(t *testing.T) {
	t.Parallel()
	f := newFakeStream().shard("A", false, nil, "a0")
	var hung atomic.Int32
	f.setBefore(func(ctx context.Context, op, _ string) error {
		if op == "GetRecords" && hung.Add(1) <= 3 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	cfg := fakeConfig(f)
	cfg.RequestTimeout = 100 * time.Millisecond
	c := newFakeConsumer(t, cfg, testenv.SQLite(t))
	assert.Equal(t, []string{"a0"}, drain(t, c, 1, 30*time.Second))
	assert.Equal(t, 4, f.count("GetRecords"), "three timed out, the fourth answered")

	f.setBefore(func(ctx context.Context, op, _ string) error {
		if op == "ListShards" {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	start := time.Now()
	_, err := NewConsumer(context.Background(), cfg, ConsumerOptions{Topic: "s", DB: testenv.SQLite(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer within 100ms")
	// A bound, not a speed claim: far less than the minutes a hung call
	// would otherwise take, with room for a loaded machine under -race.
	assert.Less(t, time.Since(start), 15*time.Second)

	f.mu.Lock()
	defer f.mu.Unlock()
	for op, attempts := range f.sdkAttempts {
		for _, n := range attempts {
			assert.Equal(t, 1, n, "%s called with SDK retries", op)
		}
	}
	assert.NotEmpty(t, f.sdkAttempts["ListShards"])
}

// Review finding 7: Send gives up after SendTimeout while throttled, and
// resends a write that may have been stored only MaxSendRetries times.
func TestSendTimeoutAndMaxSendRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := testMessage("k")

	f := newFakeStream()
	f.setBefore(func(_ context.Context, op, _ string) error {
		return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	})
	p, err := NewProducer(ctx, Config{Client: f, SendTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	_, err = p.Send(ctx, msg)
	require.ErrorIs(t, err, ErrSendTimeout)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Greater(t, f.count("PutRecord"), 1, "throttling is retried")
	_, err = p.SendBatch(ctx, []backendMessage{msg})
	require.ErrorIs(t, err, ErrSendTimeout)

	// InternalFailure may come after the record was stored: not resent by
	// default; resent MaxSendRetries times when allowed.
	internal := func(n int32) func(context.Context, string, string) error {
		var calls atomic.Int32
		return func(context.Context, string, string) error {
			if calls.Add(1) <= n {
				return &types.InternalFailureException{Message: aws.String("oops")}
			}
			return nil
		}
	}
	f = newFakeStream()
	f.setBefore(internal(1))
	p, err = NewProducer(ctx, Config{Client: f})
	require.NoError(t, err)
	_, err = p.Send(ctx, msg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "may have been stored")
	assert.Equal(t, 1, f.count("PutRecord"))

	f = newFakeStream()
	f.setBefore(internal(2))
	p, err = NewProducer(ctx, Config{Client: f, MaxSendRetries: 2})
	require.NoError(t, err)
	_, err = p.Send(ctx, msg)
	require.NoError(t, err)
	assert.Equal(t, 3, f.count("PutRecord"))

	// A call that hangs is a timeout: it may have been stored.
	f = newFakeStream()
	f.setBefore(func(ctx context.Context, _, _ string) error { <-ctx.Done(); return ctx.Err() })
	p, err = NewProducer(ctx, Config{Client: f, RequestTimeout: 50 * time.Millisecond, MaxSendRetries: 1})
	require.NoError(t, err)
	_, err = p.Send(ctx, msg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer within 50ms")
	assert.Equal(t, 2, f.count("PutRecord"), "tried once and retried once")
	_, err = p.SendBatch(ctx, []backendMessage{msg})
	require.Error(t, err)
	assert.Equal(t, 2, f.count("PutRecords"))

	// A missing stream is typed.
	f = newFakeStream()
	f.setBefore(func(context.Context, string, string) error {
		return &types.ResourceNotFoundException{Message: aws.String("not found")}
	})
	p, err = NewProducer(ctx, Config{Client: f})
	require.NoError(t, err)
	_, err = p.Send(ctx, msg)
	var missing *MissingStreamError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, msg.Topic, missing.Stream)
}

// SendBatch: throttled entries are resent until SendTimeout passes with no
// progress; InternalFailure entries only MaxSendRetries times.
func TestSendBatchEntryFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msgs := []backendMessage{testMessage("a"), testMessage("b")}

	f := newFakeStream()
	f.entryError = func(n int) string {
		if n%2 == 0 {
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	p, err := NewProducer(ctx, Config{Client: f, SendTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	_, err = p.SendBatch(ctx, msgs)
	require.NoError(t, err, "the throttled entry got through on a later call")

	f = newFakeStream()
	f.entryError = func(int) string { return "ProvisionedThroughputExceededException" }
	p, err = NewProducer(ctx, Config{Client: f, SendTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	_, err = p.SendBatch(ctx, msgs)
	require.ErrorIs(t, err, ErrSendTimeout)

	for _, retries := range []int{0, 1} {
		f = newFakeStream()
		f.entryError = func(n int) string {
			if n == 2 {
				return "InternalFailure"
			}
			return ""
		}
		p, err = NewProducer(ctx, Config{Client: f, MaxSendRetries: retries})
		require.NoError(t, err)
		poss, err := p.SendBatch(ctx, msgs)
		if retries == 0 {
			require.Error(t, err)
			assert.Contains(t, err.Error(), "may have been stored")
			assert.NotEmpty(t, poss[0].SequenceNumber, "the first record was written")
			assert.Empty(t, poss[1].SequenceNumber)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, 2, f.count("PutRecords"))
	}
}
