package logpipe

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// failingCommit fails its first failures Commit calls, after the record's
// Save ran in the same transaction.
type failingCommit struct {
	backend.Consumer
	failures int
}

var errCommit = errors.New("injected commit failure")

func (f *failingCommit) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	if f.failures > 0 {
		f.failures--
		return errCommit
	}
	return f.Consumer.Commit(ctx, tx, rec)
}

// row is a minimal serializer that saves itself into table rows.
type row struct {
	ID   uint   `json:"-" gorm:"primaryKey"`
	UUID string `json:"uuid" gorm:"uniqueIndex"`
}

func (*row) MessageType() string { return "row" }
func (*row) Version() int        { return 1 }
func (*row) KeyField() string    { return "uuid" }
func (r *row) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var found row
	err := tx.WithContext(ctx).Where("uuid = ?", r.UUID).Take(&found).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &found, err
}
func (r *row) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	if found, ok := instance.(*row); ok {
		r.ID = found.ID
	}
	return tx.WithContext(ctx).Save(r).Error
}

func newPeopleConsumer(t *testing.T, s Settings, topic string) *Consumer {
	t.Helper()
	c, err := NewConsumer(s, topic, WithIdleTimeout(100*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Register(&row{}))
	return c
}

func countPeople(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.Model(&row{}).Count(&n).Error)
	return n
}

// A commit that fails after Save leaves neither the save nor the offset:
// they are one transaction. The next run applies the record exactly once.
func TestCommitFailureRollsBackTheSave(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			require.NoError(t, db.AutoMigrate(&row{}))
			b := memory.NewBroker(memory.WithAutoCreateTopics(1))
			s := Settings{Backend: b, DB: db}
			p, err := NewProducer(context.Background(), s, "tx")
			require.NoError(t, err)
			_, err = p.Send(context.Background(), &row{UUID: uuid.NewString()})
			require.NoError(t, err)

			c := newPeopleConsumer(t, s, "tx")
			inner := c.open
			c.open = func(ctx context.Context) (backend.Consumer, error) {
				bc, err := inner(ctx)
				return &failingCommit{Consumer: bc, failures: 1}, err
			}
			err = c.Run(context.Background())
			require.Error(t, err)
			assert.ErrorIs(t, err, errCommit)
			assert.ErrorIs(t, err, ErrSave)
			assert.Zero(t, countPeople(t, db), "the save was rolled back with the failed commit")
			offsets, err := testenv.NextOffsets(context.Background(), db, "tx")
			require.NoError(t, err)
			assert.Empty(t, offsets)

			require.NoError(t, newPeopleConsumer(t, s, "tx").Run(context.Background()))
			assert.Equal(t, int64(1), countPeople(t, db))
			require.NoError(t, newPeopleConsumer(t, s, "tx").Run(context.Background()))
			assert.Equal(t, int64(1), countPeople(t, db), "not applied twice")
		})
	}
}

// A failing save stops the consumer, commits nothing, and the record is
// applied after a restart; with several records per transaction the whole
// group is rolled back.
func TestSaveFailureCommitsNothing(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&row{}))
	b := memory.NewBroker(memory.WithAutoCreateTopics(1))
	s := Settings{Backend: b, DB: db}
	p, err := NewProducer(context.Background(), s, "save")
	require.NoError(t, err)
	ctx := context.Background()
	for range 3 {
		_, err = p.Send(ctx, &row{UUID: uuid.NewString()})
		require.NoError(t, err)
	}
	// An "account" message whose save fails, between people.
	msgV, err := p.render(&failingSaveMsg{})
	require.NoError(t, err)
	_, err = b.Append(msgV)
	require.NoError(t, err)

	c, err := NewConsumer(s, "save", WithIdleTimeout(100*time.Millisecond), WithTransactionSize(10), WithoutDeadLetters(),
		WithRetryPolicy(RetryPolicy{MinBackoff: time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, c.Register(&row{}, &failingSaveMsg{}))
	err = c.Run(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrSave)
	assert.ErrorContains(t, err, "save/0@3")
	assert.Zero(t, countPeople(t, db), "the group was rolled back")
	offsets, _ := testenv.NextOffsets(ctx, db, "save")
	assert.Empty(t, offsets)
}

type failingSaveMsg struct {
	NoLookup
	NoKey
	N int `json:"n"`
}

func (*failingSaveMsg) MessageType() string { return "account" }
func (*failingSaveMsg) Version() int        { return 1 }
func (*failingSaveMsg) Save(context.Context, *gorm.DB, any) error {
	return errors.New("disk full")
}

// Offsets kept outside the database are committed only after the
// transaction, so a crash in between re-applies (at-least-once) rather than
// loses the record.
type outsideRecorder struct {
	backend.Consumer
	events *[]string
}

func (o *outsideRecorder) CommitsOutsideTransaction() bool { return true }
func (o *outsideRecorder) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	*o.events = append(*o.events, "commit")
	if tx != nil {
		return errors.New("commit got a transaction")
	}
	return o.Consumer.Commit(ctx, nil, rec)
}

type recordingSave struct {
	row
}

var events []string

func (r *recordingSave) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	events = append(events, "save")
	return r.row.Save(ctx, tx, instance)
}

func TestOutsideTransactionCommitsAfterSave(t *testing.T) {
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&row{}))
	b := memory.NewBroker(memory.WithAutoCreateTopics(1))
	s := Settings{Backend: b, DB: db}
	p, err := NewProducer(context.Background(), s, "outside")
	require.NoError(t, err)
	_, err = p.Send(context.Background(), &row{UUID: uuid.NewString()})
	require.NoError(t, err)
	c, err := NewConsumer(s, "outside", WithIdleTimeout(100*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Register(&recordingSave{}))
	inner := c.open
	c.open = func(ctx context.Context) (backend.Consumer, error) {
		bc, err := inner(ctx)
		return &outsideRecorder{Consumer: bc, events: &events}, err
	}
	require.NoError(t, c.Run(context.Background()))
	assert.Equal(t, []string{"save", "commit"}, events)
	assert.Equal(t, int64(1), countPeople(t, db))
}
