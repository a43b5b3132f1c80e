package logpipe

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// sharingBackend is the memory broker as a backend that shares the work
// among processes (as Kinesis with shard leases does). Its consumers lose
// partition lost at its first commit, as when another process takes it
// over: the commit fails with backend.ErrPartitionLost and the partition is
// no longer fetched.
type sharingBackend struct {
	*memory.Broker
	lost int32
}

func (b *sharingBackend) SharesPartitions(backend.ConsumerOptions) bool { return true }

func (b *sharingBackend) NewConsumer(ctx context.Context, opts backend.ConsumerOptions) (backend.Consumer, error) {
	opts.Offsets = &plainStore{db: opts.DB}
	c, err := b.Broker.NewConsumer(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &losingConsumer{Consumer: c, lost: b.lost}, nil
}

// plainStore keeps positions in logpipe_kafkaoffset without a fence on
// the expected position: a backend that loses partitions (ErrPartitionLost)
// fences its commits by lease or generation instead, since Run goes on with
// the same consumer after the rollback (offsetstore.Kafka's in-memory
// fence would still expect the rolled-back positions).
type plainStore struct{ db *gorm.DB }

func (s *plainStore) Load(ctx context.Context, consumer, topic string) ([]backend.Position, error) {
	return (&offsetstore.Kafka{DB: s.db}).Load(ctx, consumer, topic)
}

func (s *plainStore) Commit(ctx context.Context, tx *gorm.DB, c backend.Checkpoint) error {
	return tx.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "topic"}, {Name: "partition"}},
		DoUpdates: clause.AssignmentColumns([]string{"offset"}),
	}).Create(&offsetstore.KafkaOffset{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset + 1}).Error
}

type losingConsumer struct {
	backend.Consumer
	lost int32
	gone bool
}

func (c *losingConsumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	recs, err := c.Consumer.Fetch(ctx)
	if c.gone {
		recs = withoutPartition(recs, Position{Topic: "shared", Partition: c.lost})
	}
	return recs, err
}

func (c *losingConsumer) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	if rec.Partition == c.lost {
		c.gone = true
		return fmt.Errorf("test: %w", backend.ErrPartitionLost)
	}
	return c.Consumer.Commit(ctx, tx, rec)
}

// A commit refused because another process took the partition over rolls
// the group back; Run goes on with the other partitions' records of the
// group and of the fetch, applies each once, and applies nothing of the
// lost partition (its new owner does).
func TestRunDropsTheRecordsOfAPartitionTakenOver(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 7} {
		t.Run(fmt.Sprintf("tx=%d", size), func(t *testing.T) {
			t.Parallel()
			db := testenv.SQLite(t)
			require.NoError(t, db.AutoMigrate(&applied{}))
			broker := memory.NewBroker()
			require.NoError(t, broker.CreateTopic("shared", 2))
			s := Settings{Backend: &sharingBackend{Broker: broker, lost: 1}, DB: db, Logger: slog.New(slog.DiscardHandler)}
			p, err := NewProducer(context.Background(), s, "shared")
			require.NoError(t, err)
			batch := make([]Message, 60)
			for i := range batch {
				batch[i] = &counted{ID: fmt.Sprint(i)}
			}
			_, err = p.SendBatch(context.Background(), batch)
			require.NoError(t, err)
			kept := len(broker.Records("shared", 0))
			require.Positive(t, kept)
			require.Less(t, kept, len(batch), "both partitions have records")

			c, err := NewConsumer(s, "shared", WithIdleTimeout(300*time.Millisecond), WithTransactionSize(size))
			require.NoError(t, err)
			require.NoError(t, c.Register(&counted{}))
			require.NoError(t, c.Run(context.Background()))

			var rows []applied
			require.NoError(t, db.Find(&rows).Error)
			assert.Len(t, rows, kept, "the records of the partition kept, and only those")
			for _, r := range rows {
				assert.Equal(t, 1, r.Times, "record %s applied once", r.ID)
			}
		})
	}
}

// With a backend that shares the work, Run takes no standby lock: a second
// consumer of the topic on the same PostgreSQL database does not wait.
func TestNoStandbyWhenTheBackendSharesTheWork(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("shared", 1))
	s := Settings{Backend: &sharingBackend{Broker: broker, lost: -1}, DB: db}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 2 {
		c, err := NewConsumer(s, "shared")
		require.NoError(t, err)
		release, err := c.standby(ctx)
		require.NoError(t, err)
		require.NotNil(t, release, "consumes at once")
		defer release()
	}
	assert.NoError(t, ctx.Err())
}
