package kinesis

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// fakeConfig is a Config on a fake client, with a short poll interval and
// no periodic shard listing (only the ones the consumer asks for itself).
func fakeConfig(api API) Config {
	return Config{Client: api, PollInterval: 50 * time.Millisecond, ShardSyncInterval: time.Hour, FetchLimit: 1}
}

// newFakeConsumer returns a consumer of the fake stream "s" on db.
func newFakeConsumer(t *testing.T, cfg Config, db *gorm.DB) *Consumer {
	t.Helper()
	c, err := NewConsumer(context.Background(), cfg, ConsumerOptions{Topic: "s", DB: db})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// drain fetches until want values were read, and returns them in order.
func drain(t *testing.T, c *Consumer, want int, timeout time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var got []string
	for len(got) < want {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err, "read so far: %v", got)
		for _, r := range recs {
			got = append(got, string(r.Value))
		}
	}
	return got
}

// Review finding 1: back-to-back reshards between two listings. The consumer
// knows A and B; A splits into A1 and A2, B into B1 and B2, and A2 merges
// with B1 into M. M is found from A2's ChildShards while B1 is not known
// yet: M must wait until B1 (after B) is read to its end.
func TestChildWaitsForParentNotYetListed(t *testing.T) {
	t.Parallel()
	f := newFakeStream().
		shard("A", true, nil, "a0").
		shard("B", true, nil, "b0", "b1", "b2").
		shard("A1", false, []string{"A"}).
		shard("A2", true, []string{"A"}).
		shard("B1", true, []string{"B"}, "b3-in-B1").
		shard("B2", false, []string{"B"}).
		shard("M", false, []string{"A2", "B1"}, "m0")
	for _, id := range []string{"A1", "A2", "B1", "B2", "M"} {
		f.setListed(id, false)
	}
	c := newFakeConsumer(t, fakeConfig(f), testenv.SQLite(t))
	for _, id := range []string{"A1", "A2", "B1", "B2", "M"} {
		f.setListed(id, true)
	}
	got := drain(t, c, 6, 10*time.Second)
	assert.ElementsMatch(t, []string{"a0", "b0", "b1", "b2", "b3-in-B1", "m0"}, got)
	assert.Greater(t, slices.Index(got, "m0"), slices.Index(got, "b3-in-B1"), "M read before its parent B1: %v", got)
	assert.Greater(t, slices.Index(got, "b3-in-B1"), slices.Index(got, "b2"), "B1 read before its parent B: %v", got)
}

// A parent that no listing shows (trimmed) does not hold its child back.
func TestChildOfUnlistedParentIsRead(t *testing.T) {
	t.Parallel()
	f := newFakeStream().
		shard("P", true, nil, "p0").
		shard("C", false, []string{"P", "Q"}, "c0")
	f.setListed("P", false)
	c := newFakeConsumer(t, fakeConfig(f), testenv.SQLite(t))
	assert.Equal(t, []string{"c0"}, drain(t, c, 1, 5*time.Second))
}

// Review finding 2: with ShardIteratorType LATEST, the children of a parent
// with a stored position (a reshard while no consumer ran) start at their
// beginning, not at LATEST; so does a child of a listed parent. A shard
// with no parent and no position starts at LATEST.
func TestLatestDoesNotSkipChildrenOfKnownParents(t *testing.T) {
	t.Parallel()
	f := newFakeStream().
		shard("P", true, nil, "p0", "p1", "p2").
		shard("C1", false, []string{"P"}, "c1").
		shard("C2", false, []string{"P"}, "c2").
		shard("Q", true, nil, "q0").
		shard("D", false, []string{"Q"}, "d0").
		shard("O", false, nil, "o-old")
	db := testenv.SQLite(t)
	require.NoError(t, (&offsetstore.Kinesis{DB: db, Region: DefaultRegion}).Commit(context.Background(), nil, backend.Checkpoint{Position: backend.Position{Topic: "s", Shard: "P", SequenceNumber: seqOf(0)}}))
	cfg := fakeConfig(f)
	cfg.ShardIteratorType = types.ShardIteratorTypeLatest
	c := newFakeConsumer(t, cfg, db)
	got := drain(t, c, 5, 10*time.Second)
	assert.ElementsMatch(t, []string{"p1", "p2", "c1", "c2", "d0"}, got)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, []types.ShardIteratorType{types.ShardIteratorTypeTrimHorizon}, f.starts["C1"])
	assert.Equal(t, []types.ShardIteratorType{types.ShardIteratorTypeTrimHorizon}, f.starts["D"])
	assert.Equal(t, []types.ShardIteratorType{types.ShardIteratorTypeLatest}, f.starts["O"])
}

// Review finding 3: when ctx ends just after GetRecords returned a page,
// the page is still handed out, not skipped.
func TestFetchKeepsPageReadWhenContextEnds(t *testing.T) {
	t.Parallel()
	f := newFakeStream().shard("A", false, nil, "a0", "a1", "a2")
	cfg := fakeConfig(f)
	cfg.FetchLimit = 2
	c := newFakeConsumer(t, cfg, testenv.SQLite(t))
	ctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.afterGetRecords = cancel
	f.mu.Unlock()
	recs, err := c.Fetch(ctx)
	require.NoError(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	assert.Equal(t, []string{"a0", "a1"}, got)
	_, err = c.Fetch(ctx)
	require.ErrorIs(t, err, context.Canceled)

	f.mu.Lock()
	f.afterGetRecords = nil
	f.mu.Unlock()
	assert.Equal(t, []string{"a2"}, drain(t, c, 1, 5*time.Second))
}
