package kinesis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Lease timings of the tests: short, so that leases move within seconds.
// (The defaults are 20s and 5s.)
const (
	testLeaseDuration = 2 * time.Second
	testLeaseRenew    = 400 * time.Millisecond
)

// newLeasedConsumer returns a consumer of stream with leases, as owner.
func newLeasedConsumer(t testing.TB, cfg Config, stream string, db *gorm.DB, owner string) *Consumer {
	t.Helper()
	cfg.Leases = &LeaseConfig{Owner: owner, Duration: testLeaseDuration, Renew: testLeaseRenew}
	c, err := NewConsumer(context.Background(), cfg, ConsumerOptions{Topic: stream, DB: db})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// leasedLoop fetches from c and applies each record in a transaction of db
// until ctx ends, as logpipe.Consumer.Run does: a commit refused because the
// shard moved rolls back, and the rest of that shard's records in the batch
// are dropped. It returns how many records it applied.
func leasedLoop(ctx context.Context, c *Consumer, db *gorm.DB, a *applied) (int, error) {
	n := 0
	for ctx.Err() == nil {
		recs, err := c.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		lost := map[string]bool{}
		for _, r := range recs {
			if lost[r.Shard] {
				continue
			}
			var pending []backend.Record
			err := db.Transaction(func(tx *gorm.DB) error {
				pending = append(pending[:0], r)
				return c.Commit(ctx, tx, r)
			})
			switch {
			case errors.Is(err, backend.ErrPartitionLost):
				lost[r.Shard] = true
			case err != nil:
				return n, err
			default:
				a.add(pending[0])
				n++
			}
		}
	}
	return n, nil
}

// leaseOwners returns the owner of each lease row of stream.
func leaseOwners(t testing.TB, db *gorm.DB, stream string) map[string]string {
	t.Helper()
	rows, err := (&offsetstore.KinesisLeases{DB: db, Region: testRegion, Stream: stream}).List(context.Background())
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range rows {
		out[r.Shard] = r.Owner
	}
	return out
}

func countOwned(owners map[string]string, owner string) int {
	n := 0
	for _, o := range owners {
		if o == owner {
			n++
		}
	}
	return n
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "%s: not within %s", what, d)
		time.Sleep(50 * time.Millisecond)
	}
}

// Two processes with leases share a 4-shard stream: two shards each, every
// record applied once and in order per key, each applying a share; when
// one closes, its leases are free at once and the other takes them.
func TestLeasesShareShardsAndCloseHandsThemBack(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testLeasesShareShards(t, open(t))
		})
	}
}

func testLeasesShareShards(t *testing.T, db *gorm.DB) {
	stream := createStream(t, 4)
	cfg := testConfig(t)
	cfg.FetchLimit = 10
	w := newKeyedWriter(t, newTestProducer(t, cfg), stream, 16)
	w.send(10, true)

	a, b := newLeasedConsumer(t, cfg, stream, db, "proc-a"), newLeasedConsumer(t, cfg, stream, db, "proc-b")
	got := newApplied()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var counts [2]atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	run := func(i int, c *Consumer) {
		defer wg.Done()
		n, err := leasedLoop(ctx, c, db, got)
		counts[i].Store(int64(n))
		errs <- err
	}
	wg.Add(2)
	go run(0, a)
	go run(1, b)

	waitUntil(t, 30*time.Second, "two shards each", func() bool {
		o := leaseOwners(t, db, stream)
		return countOwned(o, "proc-a") == 2 && countOwned(o, "proc-b") == 2
	})
	w.send(10, false)
	waitUntil(t, 60*time.Second, "every record applied", func() bool { return got.len() >= w.total() })
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireInOrder(t, got, w.next)
	for v, n := range got.count {
		require.Equal(t, 1, n, "record %s applied %d times", v, n)
	}
	assert.Positive(t, counts[0].Load(), "proc-a applied a share")
	assert.Positive(t, counts[1].Load(), "proc-b applied a share")

	// proc-a closes: its leases are free at once.
	require.NoError(t, a.Close())
	assert.Zero(t, countOwned(leaseOwners(t, db, stream), "proc-a"), "leases given back by Close")
	assert.Equal(t, 2, countOwned(leaseOwners(t, db, stream), ""), "leases given back by Close")
}

// A process whose lease was taken over commits nothing more for that
// shard: its commit fails with an error matching backend.ErrPartitionLost,
// the transaction rolls back, and it stops reading the shard.
func TestCommitAfterLeaseLostIsRefused(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	stream := createStream(t, 1)
	cfg := testConfig(t)
	w := newKeyedWriter(t, newTestProducer(t, cfg), stream, 4)
	w.send(5, true)

	c := newLeasedConsumer(t, cfg, stream, db, "slow")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []backend.Record
	for len(recs) == 0 {
		var err error
		recs, err = c.Fetch(ctx)
		require.NoError(t, err)
	}
	first := recs[0]
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error { return c.Commit(ctx, tx, first) }))

	// Another process takes the lease over (as after an expiry).
	table := &offsetstore.KinesisLeases{DB: db, Region: testRegion, Stream: stream}
	rows, err := table.List(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	_, ok, err := table.Take(ctx, rows[0].Shard, "thief", rows[0].Epoch, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)

	wrote := false
	err = db.Transaction(func(tx *gorm.DB) error {
		wrote = true
		require.NoError(t, tx.Exec("CREATE TABLE side_effect (id int)").Error)
		return c.Commit(ctx, tx, recs[len(recs)-1])
	})
	require.True(t, wrote)
	require.ErrorIs(t, err, backend.ErrPartitionLost)
	var lost *offsetstore.LeaseLostError
	require.ErrorAs(t, err, &lost)
	assert.False(t, db.Migrator().HasTable("side_effect"), "the transaction rolled back")
	stored, err := (&offsetstore.Kinesis{DB: db, Region: testRegion}).Load(ctx, "", stream)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Equal(t, first.SequenceNumber, stored[0].SequenceNumber, "nothing committed after the lease was lost")
	assert.Empty(t, c.shards, "the shard is no longer read")
}

// A leased shard split mid-stream, with two processes sharing the stream:
// the children are leased once the parent is finished, every record is
// applied once, and each key's records stay in order.
func TestLeasedShardSplitKeepsPerKeyOrder(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	stream := createStream(t, 2)
	cfg := testConfig(t)
	cfg.FetchLimit = 5
	w := newKeyedWriter(t, newTestProducer(t, cfg), stream, 16)
	got := newApplied()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, owner := range []string{"split-a", "split-b"} {
		c := newLeasedConsumer(t, cfg, stream, db, owner)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := leasedLoop(ctx, c, db, got)
			errs <- err
		}()
	}
	w.send(5, false)
	waitUntil(t, 30*time.Second, "some records applied", func() bool { return got.len() > 0 })
	shards := openShards(t, stream)
	require.Len(t, shards, 2)
	_, err := adminClient(t).SplitShard(context.Background(), &kinesis.SplitShardInput{
		StreamName: aws.String(stream), ShardToSplit: shards[0].ShardId, NewStartingHashKey: aws.String(midHashKey(shards[0])),
	})
	require.NoError(t, err)
	waitActive(t, stream)
	w.send(5, true)
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d records applied", w.total()), func() bool { return got.len() >= w.total() })
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireInOrder(t, got, w.next)
	assert.Equal(t, w.total(), got.len(), "each record applied once")
	assert.GreaterOrEqual(t, len(got.shards), 3, "records came from the parent and its children")
}
