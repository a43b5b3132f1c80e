package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// groupConfig is testConfig with group assignment and short group
// timeouts (the broker's minimum session timeout is 6s), so that a
// rebalance takes seconds rather than the defaults' half minute.
func groupConfig(t testing.TB) kafka.Config {
	cfg := testConfig(t)
	cfg.GroupID = testenv.Name("lp-group")
	cfg.GroupAssignment = true
	cfg.GroupSessionTimeout = 6 * time.Second
	cfg.GroupHeartbeat = time.Second
	cfg.GroupRebalanceTimeout = 3 * time.Second
	return cfg
}

func TestGroupAssignmentSettingsChecked(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	cfg := testConfig(t)
	cfg.GroupAssignment = true
	cfg.GroupSessionTimeout = -time.Second
	_, err := kafka.NewConsumer(cfg, kafka.ConsumerOptions{Topic: "t", DB: db})
	require.Error(t, err)
	assert.ErrorContains(t, err, "GroupAssignment needs Config.GroupID")
	assert.ErrorContains(t, err, "GroupSessionTimeout is negative")

	assert.ErrorContains(t, cfg.Validate(), "GroupAssignment needs Config.GroupID", "logpipe.NewConsumer reports it")

	cfg = groupConfig(t)
	_, err = kafka.NewConsumer(cfg, kafka.ConsumerOptions{Topic: "t", BrokerOffsets: true})
	assert.ErrorIs(t, err, backend.ErrUnsupported)
	_, err = kafka.NewConsumer(cfg, kafka.ConsumerOptions{Topic: "t", Offsets: plainStore{}})
	assert.ErrorIs(t, err, backend.ErrUnsupported, "an offset store that cannot claim partitions")

	b := kafka.New(cfg)
	assert.True(t, b.SharesPartitions(backend.ConsumerOptions{Topic: "t"}))
	assert.False(t, kafka.New(testConfig(t)).SharesPartitions(backend.ConsumerOptions{Topic: "t"}))
}

// A session timeout the broker refuses (under group.min.session.timeout.ms,
// 6s) stops the consumer with the broker's error rather than leave it
// trying to join for ever.
func TestGroupAssignmentRefusedSessionTimeout(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 1)
	cfg := groupConfig(t)
	cfg.GroupSessionTimeout = time.Second
	c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, DB: testenv.SQLite(t)})
	ctx := ctxTimeout(t, 30*time.Second)
	for {
		recs, err := c.Fetch(ctx)
		if err != nil {
			require.ErrorIs(t, err, kafkago.InvalidSessionTimeout)
			assert.ErrorContains(t, err, cfg.GroupID)
			return
		}
		require.Empty(t, recs)
	}
}

// plainStore is an OffsetStore that cannot claim partitions.
type plainStore struct{}

func (plainStore) Load(context.Context, string, string) ([]backend.Position, error) { return nil, nil }
func (plainStore) Commit(context.Context, *gorm.DB, backend.Checkpoint) error       { return nil }

// A commit made after another process claimed the partition fails with
// ErrFenced, writes nothing, and the consumer stops reading that partition
// (its generation is about to end); the new owner reads from the position
// the fenced commit did not move.
func TestGroupAssignmentStaleCommitFenced(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	topic := createTopic(t, 1)
	p := newProducer(t, testConfig(t))
	ctx := ctxTimeout(t, 60*time.Second)
	for i := range 10 {
		_, err := p.Send(ctx, msg(topic, fmt.Sprint(i), fmt.Sprint("v", i)))
		require.NoError(t, err)
	}
	c := newConsumer(t, groupConfig(t), kafka.ConsumerOptions{Topic: topic, DB: db})
	got := consume(t, c, 10, nil)
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error { return c.Commit(ctx, tx, got[4]) }))

	// Another process claims the partition (the group gave it away).
	_, pos, ok, err := (&offsetstore.Kafka{DB: db}).Claim(ctx, "", topic, 0, "other")
	require.NoError(t, err)
	require.True(t, ok)
	assert.EqualValues(t, 4, pos.Offset)

	err = db.Transaction(func(tx *gorm.DB) error { return c.Commit(ctx, tx, got[9]) })
	require.ErrorIs(t, err, backend.ErrFenced)
	var fe *offsetstore.FencedError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, topic, fe.Topic)
	assert.EqualValues(t, 9, fe.Offset)
	stored, err := testenv.NextOffsets(ctx, db, topic)
	require.NoError(t, err)
	assert.Equal(t, map[int32]int64{0: 5}, stored, "the fenced commit wrote nothing")
	assertNoMore(t, c)
}

// groupEvent is applied by one of several consumers, each registering its
// own type, so that the test sees who applied what; the primary key makes
// a record applied twice fail its consumer.
type groupEvent struct {
	ID int `json:"id"`
	logpipe.NoLookup
	by string
}

type groupApplied struct {
	ID      int `gorm:"primaryKey;autoIncrement:false"`
	Applier string
}

func (*groupEvent) MessageType() string { return "event" }
func (*groupEvent) Version() int        { return 1 }
func (*groupEvent) KeyField() string    { return "id" }
func (e *groupEvent) save(ctx context.Context, tx *gorm.DB) error {
	time.Sleep(2 * time.Millisecond)
	return tx.WithContext(ctx).Create(&groupApplied{ID: e.ID, Applier: e.by}).Error
}

type eventByA struct{ groupEvent }
type eventByB struct{ groupEvent }

func (e *eventByA) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	e.by = "a"
	return e.save(ctx, tx)
}

func (e *eventByB) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	e.by = "b"
	return e.save(ctx, tx)
}

// Two processes (two consumers with their own database pools) in group
// assignment share a topic's partitions: every record is applied once, and
// each applies a share; the second one's joining is a rebalance.
func TestGroupAssignmentSharesTheWork(t *testing.T) {
	t.Parallel()
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, offsetstore.Migrate(context.Background(), db))
	require.NoError(t, db.AutoMigrate(&groupApplied{}))
	topic := createTopic(t, 4)
	const n = 1200
	send := kafkaSettings(t, testenv.SQLite(t))
	pr, err := logpipe.NewProducer(context.Background(), send, topic)
	require.NoError(t, err)
	defer pr.Close()
	batch := make([]logpipe.Message, n)
	for i := range batch {
		batch[i] = &groupEvent{ID: i}
	}
	_, err = pr.SendBatch(ctxTimeout(t, 60*time.Second), batch)
	require.NoError(t, err)

	cfg := groupConfig(t)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, s := range []logpipe.Serializer{&eventByA{}, &eventByB{}} {
		pdb, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard}) // a process's own pool
		require.NoError(t, err)
		c, err := logpipe.NewConsumer(logpipe.Settings{Backend: kafka.New(cfg), DB: pdb}, topic,
			logpipe.WithIdleTimeout(8*time.Second), logpipe.WithThrowErrors(), logpipe.WithTransactionSize(10))
		require.NoError(t, err)
		require.NoError(t, c.Register(s))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
			defer cancel()
			errs[i] = c.Run(ctx)
		}()
		time.Sleep(time.Duration(i) * 500 * time.Millisecond)
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "consumer %d", i)
	}
	var count int64
	require.NoError(t, db.Model(&groupApplied{}).Count(&count).Error)
	assert.EqualValues(t, n, count, "every record applied once")
	var shares []struct {
		Applier string
		N       int
	}
	require.NoError(t, db.Model(&groupApplied{}).Select("applier, count(*) AS n").Group("applier").Order("applier").Scan(&shares).Error)
	t.Logf("shares: %+v", shares)
	require.Len(t, shares, 2, "each consumer applied a share")
}
