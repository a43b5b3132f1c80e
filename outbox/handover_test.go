package outbox_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/outbox"
)

// stuckBackend's producer hangs in Send for a while, deaf to its context,
// like a relay whose host stopped answering while it held the lock.
type stuckBackend struct {
	hang     time.Duration
	mu       sync.Mutex
	entered  chan struct{}
	returned atomic.Bool
}

func (*stuckBackend) Name() string { return "stuck" }
func (b *stuckBackend) NewProducer(context.Context, backend.ProducerOptions) (backend.Producer, error) {
	return &stuckProducer{b: b}, nil
}
func (*stuckBackend) NewConsumer(context.Context, backend.ConsumerOptions) (backend.Consumer, error) {
	return nil, errors.New("stuck backend: no consumer")
}

type stuckProducer struct{ b *stuckBackend }

func (p *stuckProducer) Send(context.Context, backend.Message) (backend.Position, error) {
	p.b.mu.Lock()
	select {
	case <-p.b.entered:
	default:
		close(p.b.entered)
	}
	p.b.mu.Unlock()
	time.Sleep(p.b.hang)
	p.b.returned.Store(true)
	return backend.Position{}, errors.New("stuck backend: gave up")
}
func (*stuckProducer) Close() error { return nil }

// TestAStuckRelayHandsOver: a relay that hangs in a send while holding the
// lock has its session ended by PostgreSQL after the hold timeout, and a
// second replica sends the records.
func TestAStuckRelayHandsOver(t *testing.T) {
	ctx := context.Background()
	db := postgres(t)
	stuck := &stuckBackend{hang: 10 * time.Second, entered: make(chan struct{})}
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		_, err := outbox.Send(ctx, tx, logpipe.Settings{}, "t", &Change{ID: "k", N: 1})
		return err
	}))
	runRelay(t, logpipe.Settings{Backend: stuck, DB: db, Logger: quiet}, outbox.WithHoldTimeout(2*time.Second))
	select {
	case <-stuck.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the stuck relay never sent")
	}
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 1))
	runRelay(t, logpipe.Settings{Backend: broker, DB: db, Logger: quiet})
	waitDrained(t, db, 30*time.Second)
	require.False(t, stuck.returned.Load(), "the second relay took over while the first still hung in its send")
	recs := broker.Records("t", 0)
	require.Len(t, recs, 1)
	assert.Equal(t, "k", string(recs[0].Key))
}
