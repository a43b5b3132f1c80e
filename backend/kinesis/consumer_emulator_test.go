package kinesis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

func TestTwentyShardsEachRecordAppliedOnce(t *testing.T) {
	t.Parallel()
	const shards, perShard = 20, 101
	stream := createStream(t, shards)
	admin := adminClient(t)
	ctx := context.Background()

	// Exactly perShard records on every shard: each is aimed at its shard
	// with an explicit hash key.
	open := openShards(t, stream)
	require.Len(t, open, shards)
	perKey := map[string]int{}
	for s, sh := range open {
		in := &kinesis.PutRecordsInput{StreamName: aws.String(stream)}
		for i := range perShard {
			key := fmt.Sprintf("s%02d-k%d", s, i%4)
			in.Records = append(in.Records, types.PutRecordsRequestEntry{
				PartitionKey:    aws.String(key),
				ExplicitHashKey: sh.HashKeyRange.StartingHashKey,
				Data:            []byte(value(key, perKey[key])),
			})
			perKey[key]++
		}
		out, err := admin.PutRecords(ctx, in)
		require.NoError(t, err)
		require.Zero(t, aws.ToInt32(out.FailedRecordCount))
	}

	db := testenv.SQLite(t)
	cfg := testConfig(t)
	c := newTestConsumer(t, cfg, stream, db)
	a := newApplied()
	consumeUntil(t, c, db, a, shards*perShard, 60*time.Second)
	requireInOrder(t, a, perKey)
	require.Equal(t, shards*perShard, a.len())
	for v, n := range a.count {
		require.Equal(t, 1, n, "value %s applied %d times", v, n)
	}
	assert.Len(t, a.shards, shards)

	var rows []offsetstore.KinesisOffset
	require.NoError(t, db.Where("stream = ?", stream).Find(&rows).Error)
	assert.Len(t, rows, shards, "a position per shard")

	// Everything is read: more fetches bring nothing and the consumer is
	// idle.
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for !c.Idle() {
		recs, err := c.Fetch(ctx2)
		require.NoError(t, err)
		require.Empty(t, recs)
	}
}

func TestResumeAfterRestartFromStoredPositions(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 2)
	cfg := testConfig(t)
	cfg.FetchLimit = 10
	p := newTestProducer(t, cfg)
	w := newKeyedWriter(t, p, stream, 6)
	w.send(10, true)
	ctx := context.Background()

	db := testenv.SQLite(t)
	a := newApplied()
	first, err := NewConsumer(ctx, cfg, ConsumerOptions{Topic: stream, DB: db})
	require.NoError(t, err)
	consumeUntil(t, first, db, a, 25, 30*time.Second)
	// One more page is fetched but its transaction never commits, as in
	// a crash: it must be read again after the restart.
	var lost int
	for lost == 0 {
		recs, err := first.Fetch(ctx)
		require.NoError(t, err)
		lost = len(recs)
	}
	require.NoError(t, first.Close())
	require.NoError(t, first.Close(), "Close is idempotent")
	_, err = first.Fetch(ctx)
	require.ErrorIs(t, err, ErrClosed)

	applied := a.len()
	require.Less(t, applied, w.total())
	second := newTestConsumer(t, cfg, stream, db)
	consumeUntil(t, second, db, a, w.total(), 30*time.Second)
	requireInOrder(t, a, w.next)
	for v, n := range a.count {
		require.Equal(t, 1, n, "value %s applied %d times", v, n)
	}
}
