package logpipe

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// halfSaved writes a row, then fails a statement (a duplicate key), then
// asks for the record to be skipped.
type halfSaved struct {
	NoLookup
	NoKey
	UUID string `json:"uuid"`
}

func (*halfSaved) MessageType() string { return "half" }
func (*halfSaved) Version() int        { return 1 }
func (h *halfSaved) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	if err := tx.WithContext(ctx).Create(&row{UUID: h.UUID}).Error; err != nil {
		return err
	}
	if err := tx.WithContext(ctx).Create(&row{UUID: h.UUID}).Error; err != nil {
		return Invalid("uuid", "duplicate: %v", err)
	}
	return nil
}

// A record skipped by its Save leaves nothing of what Save wrote, and the
// transaction still commits its offset and the next record, also on
// PostgreSQL, where a failed statement aborts the transaction.
func TestSkippedSaveLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		for _, size := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/tx=%d", name, size), func(t *testing.T) {
				t.Parallel()
				db := open(t)
				require.NoError(t, db.AutoMigrate(&row{}))
				s := Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}
				p, err := NewProducer(context.Background(), s, "skip")
				require.NoError(t, err)
				ctx := context.Background()
				before := uuid.NewString() // applied, rolled back with the skip, applied again
				_, err = p.Send(ctx, &row{UUID: before})
				require.NoError(t, err)
				_, err = p.Send(ctx, &halfSaved{UUID: "half"})
				require.NoError(t, err)
				good := uuid.NewString()
				_, err = p.Send(ctx, &row{UUID: good})
				require.NoError(t, err)

				c, err := NewConsumer(s, "skip", WithIdleTimeout(100*time.Millisecond), WithTransactionSize(size))
				require.NoError(t, err)
				require.NoError(t, c.Register(&row{}, &halfSaved{}))
				require.NoError(t, c.Run(ctx))
				var rows []row
				require.NoError(t, db.Find(&rows).Error)
				require.Len(t, rows, 2, "the skipped record's row was rolled back; the others are applied once")
				assert.ElementsMatch(t, []string{before, good}, []string{rows[0].UUID, rows[1].UUID})
				offsets, err := testenv.NextOffsets(ctx, db, "skip")
				require.NoError(t, err)
				assert.Equal(t, map[int32]int64{0: 3}, offsets)
			})
		}
	}
}

// With several records per transaction across partitions, every record
// waits out MinMessageLag, not only the group's last.
func TestMinMessageLagAcrossPartitions(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&row{}))
	b := memory.NewBroker(memory.WithAutoCreateTopics(1))
	require.NoError(t, b.CreateTopic("lag", 2))
	s := Settings{Backend: b, DB: db, MinMessageLag: 300 * time.Millisecond}
	p, err := NewProducer(context.Background(), s, "lag")
	require.NoError(t, err)
	ctx := context.Background()
	var sent time.Time
	for i := 0; i < 40; i++ { // keys spread over both partitions
		sent = time.Now()
		_, err := p.Send(ctx, &row{UUID: fmt.Sprint("k", i)})
		require.NoError(t, err)
	}
	require.NotEmpty(t, b.Records("lag", 0))
	require.NotEmpty(t, b.Records("lag", 1))
	c, err := NewConsumer(s, "lag", WithIdleTimeout(50*time.Millisecond), WithTransactionSize(100))
	require.NoError(t, err)
	require.NoError(t, c.Register(&row{}))
	require.NoError(t, c.Run(ctx))
	assert.GreaterOrEqual(t, time.Since(sent), s.MinMessageLag, "the newest record was held until it was old enough")
}

// A MultiConsumer refuses two consumers of one topic.
func TestMultiConsumerRejectsDuplicateTopics(t *testing.T) {
	t.Parallel()
	s := Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: testenv.SQLite(t)}
	a, err := NewConsumer(s, "t")
	require.NoError(t, err)
	b, err := NewConsumer(s, "t")
	require.NoError(t, err)
	assert.ErrorContains(t, NewMultiConsumer(a, b).Run(context.Background()), `two consumers of memory topic "t"`)
	assert.ErrorContains(t, NewMultiConsumer(a, a).Run(context.Background()), "two consumers")
}

// The first error of one consumer stops the others, and is returned.
func TestMultiConsumerFirstErrorStopsAll(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&row{}))
	s := Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}
	p, err := NewProducer(context.Background(), s, "bad")
	require.NoError(t, err)
	_, err = p.Send(context.Background(), &failingSaveMsg{})
	require.NoError(t, err)
	failing, err := NewConsumer(s, "bad", WithoutDeadLetters()) // a failing save stops it
	require.NoError(t, err)
	require.NoError(t, failing.Register(&failingSaveMsg{}))
	quiet, err := NewConsumer(s, "quiet") // no idle timeout: runs until stopped
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- NewMultiConsumer(failing, quiet).Run(context.Background()) }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrSave)
	case <-time.After(20 * time.Second):
		t.Fatal("the failing consumer did not stop the others")
	}
}

// Register while running applies to the following records.
func TestRegisterWhileRunning(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&row{}))
	b := memory.NewBroker(memory.WithAutoCreateTopics(1))
	s := Settings{Backend: b, DB: db}
	c, err := NewConsumer(s, "live", WithThrowErrors())
	require.NoError(t, c.Register(&halfSaved{}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() { defer wg.Done(); runErr = c.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // running, with only halfSaved registered
	require.NoError(t, c.Register(&row{}))
	p, err := NewProducer(context.Background(), s, "live")
	require.NoError(t, err)
	_, err = p.Send(ctx, &row{UUID: "x"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		offsets, _ := testenv.NextOffsets(ctx, db, "live")
		return offsets[0] == 1
	}, 10*time.Second, 20*time.Millisecond, "a type registered while running is applied (with errors thrown, an unknown type would stop Run)")
	cancel()
	wg.Wait()
	assert.NoError(t, runErr)
	var n int64
	require.NoError(t, db.Model(&row{}).Count(&n).Error)
	assert.Equal(t, int64(1), n)
}
