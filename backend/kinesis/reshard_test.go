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
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// keyedWriter sends values numbered in order per key.
type keyedWriter struct {
	t      *testing.T
	p      *Producer
	stream string
	keys   []string
	next   map[string]int
}

func newKeyedWriter(t *testing.T, p *Producer, stream string, nkeys int) *keyedWriter {
	w := &keyedWriter{t: t, p: p, stream: stream, next: map[string]int{}}
	for i := range nkeys {
		w.keys = append(w.keys, fmt.Sprintf("key-%02d", i))
	}
	return w
}

// send writes n more values of every key, one at a time or in one batch.
func (w *keyedWriter) send(n int, batch bool) {
	var msgs []backend.Message
	for range n {
		for _, k := range w.keys {
			msgs = append(msgs, backend.Message{Topic: w.stream, Key: []byte(k), Value: []byte(value(k, w.next[k]))})
			w.next[k]++
		}
	}
	ctx := context.Background()
	if batch {
		poss, err := w.p.SendBatch(ctx, msgs)
		require.NoError(w.t, err)
		require.Len(w.t, poss, len(msgs))
		return
	}
	for _, m := range msgs {
		_, err := w.p.Send(ctx, m)
		require.NoError(w.t, err)
	}
}

func (w *keyedWriter) total() int {
	n := 0
	for _, v := range w.next {
		n += v
	}
	return n
}

// runConsumer consumes in the background; wait(want) waits until want
// records have been applied.
func runConsumer(t *testing.T, c *Consumer, a *applied) (wait func(want int)) {
	db := c.store.(*offsetstore.Kinesis).DB
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	done := make(chan error, 1)
	target := make(chan int, 1)
	go func() {
		// Read while the test writes and reshards, then to the final count.
		for {
			select {
			case want := <-target:
				done <- consume(ctx, c, db, a, want)
				return
			default:
			}
			recs, err := c.Fetch(ctx)
			if err != nil {
				done <- err
				return
			}
			for _, r := range recs {
				if err := db.Transaction(func(tx *gorm.DB) error { a.add(r); return c.Commit(ctx, tx, r) }); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	return func(want int) {
		defer cancel()
		target <- want
		require.NoError(t, <-done)
	}
}

func TestSplitAndMergeKeepPerKeyOrder(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 2)
	cfg := testConfig(t)
	cfg.FetchLimit = 3 // small pages, so that shards interleave
	p := newTestProducer(t, cfg)
	w := newKeyedWriter(t, p, stream, 16)
	admin := adminClient(t)
	ctx := context.Background()

	db := testenv.SQLite(t)
	live := newApplied()
	wait := runConsumer(t, newTestConsumer(t, cfg, stream, db), live)

	w.send(5, false)
	shards := openShards(t, stream)
	require.Len(t, shards, 2)
	_, err := admin.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName: aws.String(stream), ShardToSplit: shards[0].ShardId, NewStartingHashKey: aws.String(midHashKey(shards[0])),
	})
	require.NoError(t, err)
	waitActive(t, stream)
	w.send(5, true)

	shards = openShards(t, stream)
	require.Len(t, shards, 3)
	_, err = admin.MergeShards(ctx, &kinesis.MergeShardsInput{
		StreamName: aws.String(stream), ShardToMerge: shards[1].ShardId, AdjacentShardToMerge: shards[2].ShardId,
	})
	require.NoError(t, err)
	waitActive(t, stream)
	require.Len(t, openShards(t, stream), 2)
	w.send(5, false)

	wait(w.total())
	requireInOrder(t, live, w.next)
	assert.GreaterOrEqual(t, len(live.shards), 4, "records came from the parents and the children")

	// A new consumer with no positions finds the whole history resharded
	// (parents closed, children full) and must still keep each key's order.
	fresh := newApplied()
	freshDB := testenv.SQLite(t)
	consumeUntil(t, newTestConsumer(t, cfg, stream, freshDB), freshDB, fresh, w.total(), 60*time.Second)
	requireInOrder(t, fresh, w.next)
}

func TestUpdateShardCountKeepsPerKeyOrder(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 2)
	cfg := testConfig(t)
	cfg.FetchLimit = 4
	p := newTestProducer(t, cfg)
	w := newKeyedWriter(t, p, stream, 12)
	admin := adminClient(t)
	ctx := context.Background()

	db := testenv.SQLite(t)
	live := newApplied()
	wait := runConsumer(t, newTestConsumer(t, cfg, stream, db), live)

	w.send(4, true)
	for _, n := range []int32{4, 2} {
		_, err := admin.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
			StreamName: aws.String(stream), TargetShardCount: aws.Int32(n), ScalingType: types.ScalingTypeUniformScaling,
		})
		require.NoError(t, err)
		waitActive(t, stream)
		require.Len(t, openShards(t, stream), int(n))
		w.send(4, n == 2)
	}

	wait(w.total())
	requireInOrder(t, live, w.next)

	fresh := newApplied()
	freshDB := testenv.SQLite(t)
	consumeUntil(t, newTestConsumer(t, cfg, stream, freshDB), freshDB, fresh, w.total(), 60*time.Second)
	requireInOrder(t, fresh, w.next)
	assert.Equal(t, w.total(), fresh.len())
}
