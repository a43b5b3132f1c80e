package kinesis

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// balanceFixture is a lease table on SQLite and keepers that balance over
// it without a stream: the shards "listed" are set by the test.
type balanceFixture struct {
	t      *testing.T
	table  *offsetstore.KinesisLeases
	listed map[string][]string
}

func newBalanceFixture(t *testing.T, listed map[string][]string) *balanceFixture {
	db := testenv.SQLite(t)
	f := &balanceFixture{t: t, table: &offsetstore.KinesisLeases{DB: db, Region: testRegion, Stream: "s"}, listed: listed}
	for shard, parents := range listed {
		require.NoError(t, f.table.Ensure(context.Background(), shard, parents))
	}
	return f
}

func (f *balanceFixture) keeper(owner string, duration time.Duration) *keeper {
	k := newKeeper(LeaseConfig{Owner: owner, Duration: duration, Renew: duration / 4}, f.table, nil, "s", Config{}.withDefaults(), slog.New(slog.DiscardHandler))
	k.listed = f.listed
	return k
}

// round runs one balancing pass of k over the table as it is now.
func (f *balanceFixture) round(k *keeper) {
	rows, err := f.table.List(context.Background())
	require.NoError(f.t, err)
	k.balance(context.Background(), rows)
}

func (f *balanceFixture) owners() map[string]int {
	rows, err := f.table.List(context.Background())
	require.NoError(f.t, err)
	out := map[string]int{}
	for _, r := range rows {
		out[r.Owner]++
	}
	return out
}

// Free leases are taken at once, up to the share; a process that joins
// takes one lease from the busiest, and the shares then settle without
// leases moving back and forth.
func TestBalanceSharesAndSettles(t *testing.T) {
	t.Parallel()
	f := newBalanceFixture(t, map[string][]string{"a": nil, "b": nil, "c": nil, "d": nil})
	p1, p2, p3 := f.keeper("p1", time.Hour), f.keeper("p2", time.Hour), f.keeper("p3", time.Hour)
	f.round(p1)
	assert.Equal(t, map[string]int{"p1": 4}, f.owners(), "alone, p1 takes every free lease")
	f.round(p2)
	assert.Equal(t, map[string]int{"p1": 3, "p2": 1}, f.owners(), "one lease per round from the busiest")
	f.round(p2)
	assert.Equal(t, map[string]int{"p1": 2, "p2": 2}, f.owners())
	f.round(p2)
	f.round(p1)
	assert.Equal(t, map[string]int{"p1": 2, "p2": 2}, f.owners(), "settled")
	f.round(p3)
	got := f.owners()
	assert.Equal(t, 1, got["p3"], "a third process takes one")
	for range 3 {
		f.round(p1)
		f.round(p2)
		f.round(p3)
	}
	assert.Equal(t, got, f.owners(), "2, 1, 1 settles")
	evs, _ := p1.drain()
	lost := 0
	for _, ev := range evs {
		if !ev.acquired {
			lost++
		}
	}
	assert.Zero(t, lost, "p1 learns of its losses at renewal, not from balance")
}

// A lease whose owner stopped renewing it is taken only once its counter
// has not moved for the lease duration on the taker's clock.
func TestBalanceTakesAnExpiredLeaseAfterTheDuration(t *testing.T) {
	t.Parallel()
	f := newBalanceFixture(t, map[string][]string{"a": nil, "b": nil})
	dead := f.keeper("dead", time.Hour)
	f.round(dead)
	require.Equal(t, map[string]int{"dead": 2}, f.owners())
	p := f.keeper("p", time.Second)
	f.round(p)
	f.round(p)
	assert.Equal(t, map[string]int{"dead": 1, "p": 1}, f.owners(), "not yet expired: p takes only its share from the busiest")
	time.Sleep(1100 * time.Millisecond)
	f.round(p)
	assert.Equal(t, map[string]int{"p": 2}, f.owners(), "expired: p takes both")
}

// A child shard is leased only once its parent is finished.
func TestBalanceLeasesAChildAfterItsParent(t *testing.T) {
	t.Parallel()
	f := newBalanceFixture(t, map[string][]string{"parent": nil, "child-1": {"parent"}, "child-2": {"parent"}})
	p := f.keeper("p", time.Hour)
	f.round(p)
	assert.Equal(t, map[string]int{"p": 1, "": 2}, f.owners(), "only the parent is leased")
	evs, _ := p.drain()
	require.Len(t, evs, 1)
	ok, err := p.finish(context.Background(), "parent", evs[0].epoch, "")
	require.NoError(t, err)
	require.True(t, ok)
	f.round(p)
	assert.Equal(t, map[string]int{"p": 2, "": 1}, f.owners(), "the children once the parent is finished (the parent row is kept, SHARD_END)")
}
