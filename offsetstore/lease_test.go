package offsetstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// The lease table's changes are conditional on the epoch: of two takers
// one wins, a renewal or release under an old epoch changes nothing, and a
// position commit under an old epoch is refused with a *LeaseLostError
// (matching backend.ErrPartitionLost) and writes nothing.
func TestKinesisLeasesAreFencedByEpoch(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			ctx := context.Background()
			l := &offsetstore.KinesisLeases{DB: db, Region: "eu-west-1", Stream: "s"}
			require.NoError(t, l.Ensure(ctx, "shard-1", []string{"shard-0"}))
			require.NoError(t, l.Ensure(ctx, "shard-1", nil), "Ensure keeps an existing row")
			rows, err := l.List(ctx)
			require.NoError(t, err)
			require.Len(t, rows, 1)
			assert.Equal(t, []string{"shard-0"}, rows[0].ParentIDs())
			assert.Empty(t, rows[0].Owner)
			exp := time.Now().Add(time.Minute)

			e1, ok, err := l.Take(ctx, "shard-1", "a", rows[0].Epoch, exp)
			require.NoError(t, err)
			require.True(t, ok)
			_, ok, err = l.Take(ctx, "shard-1", "b", rows[0].Epoch, exp)
			require.NoError(t, err)
			assert.False(t, ok, "the second taker of the same epoch loses")

			store := &offsetstore.Kinesis{DB: db, Region: "eu-west-1"}
			commit := func(seq string, epoch int64) error {
				return db.Transaction(func(tx *gorm.DB) error {
					return store.Commit(ctx, tx, backend.Checkpoint{Position: backend.Position{Topic: "s", Shard: "shard-1", SequenceNumber: seq}, Fence: epoch})
				})
			}
			require.NoError(t, commit("100", e1))
			ok, err = l.Renew(ctx, "shard-1", "a", e1, exp)
			require.NoError(t, err)
			assert.True(t, ok)

			e2, ok, err := l.Take(ctx, "shard-1", "b", e1, exp)
			require.NoError(t, err)
			require.True(t, ok, "b takes the lease over")
			err = commit("200", e1)
			require.ErrorIs(t, err, backend.ErrPartitionLost)
			var lost *offsetstore.LeaseLostError
			require.ErrorAs(t, err, &lost)
			assert.Equal(t, e1, lost.Epoch)
			ok, err = l.Renew(ctx, "shard-1", "a", e1, exp)
			require.NoError(t, err)
			assert.False(t, ok, "a's renewal finds the lease gone")
			ok, err = l.Release(ctx, "shard-1", "a", e1)
			require.NoError(t, err)
			assert.False(t, ok, "a cannot release b's lease")
			pos, err := store.Load(ctx, "", "s")
			require.NoError(t, err)
			require.Len(t, pos, 1)
			assert.Equal(t, "100", pos[0].SequenceNumber, "nothing written under the old epoch")

			require.NoError(t, commit("300", e2))
			ok, err = l.Finish(ctx, "shard-1", "b", e2, "299")
			require.NoError(t, err)
			assert.False(t, ok, "not finished while the last record handed out is not committed")
			ok, err = l.Finish(ctx, "shard-1", "b", e2, "300")
			require.NoError(t, err)
			assert.True(t, ok)
			rows, err = l.List(ctx)
			require.NoError(t, err)
			assert.Equal(t, offsetstore.ShardEnd, rows[0].Checkpoint)
			assert.Empty(t, rows[0].Owner, "a finished lease is free")
			_, ok, err = l.Take(ctx, "shard-1", "c", rows[0].Epoch, exp)
			require.NoError(t, err)
			assert.False(t, ok, "a finished lease is not taken again")
			require.ErrorIs(t, commit("400", e2), backend.ErrPartitionLost, "no commit after the finish")
		})
	}
}
