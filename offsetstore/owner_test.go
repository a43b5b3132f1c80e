package offsetstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Two named consumers and the unnamed one keep separate positions of one
// topic or stream; the unnamed one's stay in django-logpipe's tables.
func TestNamedConsumersKeepSeparatePositions(t *testing.T) {
	t.Parallel()
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			ctx := context.Background()
			for consumer, next := range map[string]int64{"": 5, "billing": 7, "indexer": 9} {
				c := kafkaAt("people", 0, next)
				c.Consumer = consumer
				require.NoError(t, (&offsetstore.Kafka{DB: db}).Commit(ctx, nil, c))
				c.Offset++ // a second commit updates the row
				require.NoError(t, (&offsetstore.Kafka{DB: db}).Commit(ctx, nil, c))
				k := kinesisAt("stream", "shardId-0", "1000")
				k.Consumer = consumer
				require.NoError(t, (&offsetstore.Kinesis{DB: db, Region: "eu-west-1"}).Commit(ctx, nil, k))
			}
			for consumer, want := range map[string]int64{"": 5, "billing": 7, "indexer": 9} {
				got, err := (&offsetstore.Kafka{DB: db}).Load(ctx, consumer, "people")
				require.NoError(t, err)
				assert.Equal(t, []backend.Position{{Topic: "people", Partition: 0, Offset: want}}, got, "consumer %q", consumer)
				kin, err := (&offsetstore.Kinesis{DB: db, Region: "eu-west-1"}).Load(ctx, consumer, "stream")
				require.NoError(t, err)
				assert.Len(t, kin, 1, "consumer %q", consumer)
			}
			var django []offsetstore.KafkaOffset
			require.NoError(t, db.Find(&django).Error)
			require.Len(t, django, 1, "only the unnamed consumer is in Django's table")
			assert.EqualValues(t, 6, django[0].Offset)
			var named int64
			require.NoError(t, db.Model(&offsetstore.ConsumerOffset{}).Count(&named).Error)
			assert.EqualValues(t, 4, named, "two named consumers, a Kafka and a Kinesis row each")
		})
	}
}

// A claim raises the partition's generation and reads its position; a
// commit under an older generation fails with ErrFenced and writes
// nothing, and the current owner's commits go through.
func TestClaimFencesTheFormerOwner(t *testing.T) {
	t.Parallel()
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			ctx := context.Background()
			for _, consumer := range []string{"", "billing"} {
				zombie, owner := &offsetstore.Kafka{DB: db}, &offsetstore.Kafka{DB: db}
				g1, _, ok, err := zombie.Claim(ctx, consumer, "people", 2, "member-a")
				require.NoError(t, err)
				assert.False(t, ok, "no position stored yet")
				c := kafkaAt("people", 2, 10)
				c.Consumer, c.Fence = consumer, g1
				require.NoError(t, zombie.Commit(ctx, nil, c))

				g2, pos, ok, err := owner.Claim(ctx, consumer, "people", 2, "member-b")
				require.NoError(t, err)
				assert.Greater(t, g2, g1)
				require.True(t, ok)
				assert.EqualValues(t, 9, pos.Offset, "the claim reads the zombie's committed position")

				c = kafkaAt("people", 2, 20)
				c.Consumer, c.Fence = consumer, g1
				err = zombie.Commit(ctx, nil, c)
				require.ErrorIs(t, err, offsetstore.ErrFenced)
				var fe *offsetstore.FencedError
				require.True(t, errors.As(err, &fe))
				assert.Equal(t, "people", fe.Topic)
				assert.EqualValues(t, 2, fe.Partition)
				assert.Equal(t, g1, fe.Generation)

				c.Fence = g2
				require.NoError(t, owner.Commit(ctx, nil, c))
				got, err := owner.Load(ctx, consumer, "people")
				require.NoError(t, err)
				assert.Equal(t, []backend.Position{{Topic: "people", Partition: 2, Offset: 19}}, got, "consumer %q", consumer)
			}
		})
	}
}

// On PostgreSQL, a claim made while the former owner's transaction has
// checked its generation waits for that transaction and reads its result:
// the new owner neither repeats the zombie's last records nor stops.
func TestClaimWaitsForTheCommitInFlight(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()
	zombie, owner := &offsetstore.Kafka{DB: db}, &offsetstore.Kafka{DB: db}
	g1, _, _, err := zombie.Claim(ctx, "", "people", 0, "a")
	require.NoError(t, err)

	checked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Transaction(func(tx *gorm.DB) error {
			c := kafkaAt("people", 0, 42)
			c.Fence = g1
			if err := zombie.Commit(ctx, tx, c); err != nil {
				return err
			}
			close(checked)
			<-release
			return nil
		})
	}()
	<-checked
	claimed := make(chan int64, 1)
	go func() {
		_, pos, ok, err := owner.Claim(ctx, "", "people", 0, "b")
		if err != nil || !ok {
			claimed <- -1
			return
		}
		claimed <- pos.Offset
	}()
	select {
	case off := <-claimed:
		t.Fatalf("the claim did not wait for the transaction in flight (read %d)", off)
	case <-time.After(500 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done)
	assert.EqualValues(t, 41, <-claimed, "the claim read what the zombie's transaction committed")
}

// A claim waiting for a frozen owner's transaction gives up with its
// context, so that the caller can try again.
func TestClaimEndsWithItsContext(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()
	s := &offsetstore.Kafka{DB: db}
	g1, _, _, err := s.Claim(ctx, "", "people", 0, "a")
	require.NoError(t, err)
	tx := db.Begin()
	t.Cleanup(func() { tx.Rollback() })
	c := kafkaAt("people", 0, 1)
	c.Fence = g1
	require.NoError(t, s.Commit(ctx, tx, c))
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, _, _, err = (&offsetstore.Kafka{DB: db}).Claim(cctx, "", "people", 0, "b")
	require.Error(t, err)
}
