package logpipe_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// noteApplied is one application of a note by a named consumer; the key
// makes a second application fail.
type noteApplied struct {
	Consumer string `gorm:"primaryKey"`
	ID       int    `gorm:"primaryKey;autoIncrement:false"`
}

type note struct {
	ID int `json:"id"`
	logpipe.NoLookup
}

func (*note) MessageType() string { return "note" }
func (*note) Version() int        { return 1 }
func (*note) KeyField() string    { return "id" }

type indexerNote struct{ note }
type billingNote struct{ note }

func (n *indexerNote) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	return tx.WithContext(ctx).Create(&noteApplied{Consumer: "indexer", ID: n.ID}).Error
}

func (n *billingNote) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	return tx.WithContext(ctx).Create(&noteApplied{Consumer: "billing", ID: n.ID}).Error
}

// Two named consumers of one topic in one MultiConsumer, on one database,
// each apply every record once, keep their own positions (not in
// django-logpipe's table) and their own dead letters; two consumers with
// the same name are refused.
func TestNamedConsumersOfOneTopic(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&noteApplied{}))
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("notes", 2))
	s := logpipe.Settings{Backend: b, DB: db}
	p, err := logpipe.NewProducer(context.Background(), s, "notes")
	require.NoError(t, err)
	defer p.Close()
	for i := range 20 {
		_, err := p.Send(context.Background(), &note{ID: i})
		require.NoError(t, err)
	}
	_, err = b.Append(backend.Message{Topic: "notes", Key: []byte("bad"), Value: []byte("json:{not json")})
	require.NoError(t, err)

	indexer, err := logpipe.NewConsumer(s, "notes", logpipe.WithName("indexer"), logpipe.WithIdleTimeout(300*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, indexer.Register(&indexerNote{}))
	billing, err := logpipe.NewConsumer(s, "notes", logpipe.WithName("billing"), logpipe.WithIdleTimeout(300*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, billing.Register(&billingNote{}))
	assert.Equal(t, "billing", billing.Name())

	again, err := logpipe.NewConsumer(s, "notes", logpipe.WithName("billing"))
	require.NoError(t, err)
	assert.ErrorContains(t, logpipe.NewMultiConsumer(indexer, billing, again).Run(context.Background()), `named "billing"`)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, logpipe.NewMultiConsumer(indexer, billing).Run(ctx))

	for _, name := range []string{"indexer", "billing"} {
		var n int64
		require.NoError(t, db.Model(&noteApplied{}).Where("consumer = ?", name).Count(&n).Error)
		assert.EqualValues(t, 20, n, "%s applied every record once", name)
		dead, err := offsetstore.ListDeadLetters(ctx, db, offsetstore.DeadLetterFilter{Consumer: name, Topic: "notes"})
		require.NoError(t, err)
		assert.Len(t, dead, 1, "%s dead-lettered the bad record under its name", name)
		pos, err := (&offsetstore.Kafka{DB: db}).Load(ctx, name, "notes")
		require.NoError(t, err)
		assert.Len(t, pos, 2, "%s has a position per partition", name)
	}
	unnamed, err := (&offsetstore.Kafka{DB: db}).Load(ctx, "", "notes")
	require.NoError(t, err)
	assert.Empty(t, unnamed, "django-logpipe's table holds no named position")
}

// On PostgreSQL the standby lock is the consumer name's: a named consumer
// does not stand by while another consumer of its topic, with another
// name, runs.
func TestNamedConsumersDoNotStandByForEachOther(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	require.NoError(t, db.AutoMigrate(&noteApplied{}))
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("notes", 1))
	s := logpipe.Settings{Backend: b, DB: db}
	p, err := logpipe.NewProducer(context.Background(), s, "notes")
	require.NoError(t, err)
	defer p.Close()
	for i := range 5 {
		_, err := p.Send(context.Background(), &note{ID: i})
		require.NoError(t, err)
	}
	indexer, err := logpipe.NewConsumer(s, "notes", logpipe.WithName("indexer"))
	require.NoError(t, err)
	require.NoError(t, indexer.Register(&indexerNote{}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- indexer.Run(ctx) }() // holds its lock until cancelled
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()

	billing, err := logpipe.NewConsumer(s, "notes", logpipe.WithName("billing"), logpipe.WithIdleTimeout(300*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, billing.Register(&billingNote{}))
	bctx, bcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer bcancel()
	require.NoError(t, billing.Run(bctx))
	require.NoError(t, bctx.Err(), "billing stopped idle, not by the test's deadline: it did not stand by")
	var n int64
	require.NoError(t, db.Model(&noteApplied{}).Where("consumer = ?", "billing").Count(&n).Error)
	assert.EqualValues(t, 5, n)
}
