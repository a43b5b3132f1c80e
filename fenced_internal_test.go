package logpipe

import (
	"context"
	"fmt"
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

// fencingConsumer fails one commit with backend.ErrFenced, then, as the
// contract says, hands out again from the stored positions what was not
// committed (here by reopening the backend consumer at the next Fetch).
type fencingConsumer struct {
	backend.Consumer
	reopen  func(context.Context) (backend.Consumer, error)
	fenceAt int // the commit call that is fenced
	commits int
	fenced  bool
}

func (f *fencingConsumer) Commit(ctx context.Context, tx *gorm.DB, rec backend.Record) error {
	f.commits++
	if f.commits == f.fenceAt {
		f.fenced = true
		return fmt.Errorf("injected: %w", backend.ErrFenced)
	}
	return f.Consumer.Commit(ctx, tx, rec)
}

func (f *fencingConsumer) Fetch(ctx context.Context) ([]backend.Record, error) {
	if f.fenced {
		f.fenced = false
		_ = f.Close()
		bc, err := f.reopen(ctx)
		if err != nil {
			return nil, err
		}
		f.Consumer = bc
	}
	return f.Consumer.Fetch(ctx)
}

// application is one application of a record: a row each time.
type application struct {
	Seq  int64 `gorm:"primaryKey;autoIncrement"`
	UUID string
}

type countedRow struct {
	UUID string `json:"uuid"`
	NoLookup
}

func (*countedRow) MessageType() string { return "row" }
func (*countedRow) Version() int        { return 1 }
func (*countedRow) KeyField() string    { return "uuid" }
func (r *countedRow) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	return tx.WithContext(ctx).Create(&application{UUID: r.UUID}).Error
}

// A commit fenced because the partition moved (backend.ErrFenced) rolls
// its transaction back and drops the rest of the fetch; Run goes on with
// what the backend hands out next, and nothing is applied twice.
func TestFencedCommitDropsTheRecordsAndGoesOn(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&application{}))
	b := memory.NewBroker(memory.WithAutoCreateTopics(1))
	s := Settings{Backend: b, DB: db}
	p, err := NewProducer(context.Background(), s, "fenced")
	require.NoError(t, err)
	defer p.Close()
	for range 10 {
		_, err := p.Send(context.Background(), &countedRow{UUID: uuid.NewString()})
		require.NoError(t, err)
	}
	c, err := NewConsumer(s, "fenced", WithIdleTimeout(200*time.Millisecond), WithTransactionSize(3))
	require.NoError(t, err)
	require.NoError(t, c.Register(&countedRow{}))
	inner := c.open
	fc := &fencingConsumer{reopen: inner, fenceAt: 2}
	c.open = func(ctx context.Context) (backend.Consumer, error) {
		bc, err := inner(ctx)
		fc.Consumer = bc
		return fc, err
	}
	require.NoError(t, c.Run(context.Background()))
	assert.Greater(t, fc.commits, 2, "the consumer went on after the fenced commit")
	var n, distinct int64
	require.NoError(t, db.Model(&application{}).Count(&n).Error)
	require.NoError(t, db.Model(&application{}).Distinct("uuid").Count(&distinct).Error)
	assert.EqualValues(t, 10, distinct, "every record applied")
	assert.EqualValues(t, 10, n, "the fenced transaction rolled back: nothing applied twice")
}
