package kinesis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// Every throttled write that is sent again is reported to OnRetry, as
// safe (nothing was stored); the consumer reports each shard's lag.
func TestRetriesAndLagAreReported(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 2)
	f := newFaults()
	f.throttlePutRecord = 2
	cfg := testConfig(t, f.add)
	var (
		mu      sync.Mutex
		retries []backend.Retry
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bp, err := New(cfg).NewProducer(ctx, backend.ProducerOptions{OnRetry: func(r backend.Retry) {
		mu.Lock()
		defer mu.Unlock()
		retries = append(retries, r)
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, bp.Close()) }()
	for i := range 4 {
		_, err := bp.Send(ctx, backend.Message{Topic: stream, Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")})
		require.NoError(t, err)
	}
	mu.Lock()
	require.Len(t, retries, f.injectedCount("PutRecord"))
	require.NotEmpty(t, retries)
	for _, r := range retries {
		assert.Equal(t, stream, r.Topic)
		assert.True(t, r.Safe, "a throttled write stored nothing")
		assert.Equal(t, 1, r.Records)
		assert.Equal(t, 1, r.Attempt)
		assert.Error(t, r.Err)
	}
	mu.Unlock()

	var assigned []string
	c, err := New(cfg).NewConsumer(ctx, backend.ConsumerOptions{Topic: stream, DB: testenv.SQLite(t), OnAssign: func(a backend.Assignment) {
		assigned = append(assigned, a.AddedShards...)
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	assert.Len(t, assigned, 2, "both shards reported when the consumer lists them")
	lr, ok := c.(backend.LagReporter)
	require.True(t, ok)
	got := 0
	for got < 4 {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err)
		got += len(recs)
	}
	lag := lr.Lag()
	require.Len(t, lag, 2)
	for _, l := range lag {
		assert.Equal(t, stream, l.Topic)
		assert.NotEmpty(t, l.Shard)
		assert.Equal(t, int64(-1), l.End)
	}
}
