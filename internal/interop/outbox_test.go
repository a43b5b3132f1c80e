package interop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/outbox"
)

// ServiceAPerson is service A's own table of people, which it saves and
// publishes through the outbox.
type ServiceAPerson struct {
	UUID      string  `gorm:"primaryKey;size:36"`
	FirstName string  `gorm:"size:200;not null"`
	LastName  string  `gorm:"size:200;not null"`
	Email     *string `gorm:"size:200"`
}

// TableName returns "service_a_people".
func (ServiceAPerson) TableName() string { return "service_a_people" }

// TestOutboxGoToDjango: Go service A saves people and sends them through
// the outbox in the same transactions (some rolled back, some updated to
// version 2); the relay sends them to Kafka; the original's consumer
// applies them; Django's people_person then matches service A's table.
func TestOutboxGoToDjango(t *testing.T) {
	t.Parallel()
	e := newKafkaEnv(t)
	topic := e.topic(t, "outbox", 3)
	ctx := context.Background()

	dbA := testenv.Postgres(t) // service A's database, with the outbox tables
	require.NoError(t, dbA.AutoMigrate(&ServiceAPerson{}))
	sA := e.settings
	sA.DB, sA.ProducerID = dbA, "service-a"
	w, err := outbox.NewWriter(sA, topic)
	require.NoError(t, err)

	save := func(p ServiceAPerson, msg logpipe.Message, rollback bool) {
		errRollback := errors.New("rolled back")
		err := dbA.Transaction(func(tx *gorm.DB) error {
			if err := tx.Save(&p).Error; err != nil {
				return err
			}
			if _, err := w.Send(ctx, tx, msg); err != nil {
				return err
			}
			if rollback {
				return errRollback
			}
			return nil
		})
		if rollback {
			require.ErrorIs(t, err, errRollback)
		} else {
			require.NoError(t, err)
		}
	}
	const n = 40
	ids := make([]uuid.UUID, n)
	sent := 0
	for i := range n {
		ids[i] = uuid.New()
		p := ServiceAPerson{UUID: ids[i].String(), FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Last%d", i)}
		save(p, &PersonV1{UUID: ids[i], FirstName: p.FirstName, LastName: p.LastName}, i%8 == 5)
		if i%8 != 5 {
			sent++
		}
	}
	for i := 0; i < n; i += 3 {
		if i%8 == 5 {
			continue
		}
		email := fmt.Sprintf("p%d@example.com", i)
		p := ServiceAPerson{UUID: ids[i].String(), FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Renamed%d", i), Email: &email}
		save(p, &PersonV2{UUID: ids[i], FirstName: p.FirstName, LastName: p.LastName, Email: p.Email}, false)
		sent++
		// A rolled-back rename after it must not reach Django.
		p.LastName = "NeverSent"
		save(p, &PersonV2{UUID: ids[i], FirstName: p.FirstName, LastName: p.LastName, Email: p.Email}, true)
	}

	r, err := outbox.NewRelay(sA, outbox.WithPollInterval(50*time.Millisecond))
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	deadline := time.Now().Add(time.Minute)
	for {
		left, err := outbox.Pending(ctx, dbA)
		require.NoError(t, err)
		if left == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d records not relayed within a minute", left)
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)

	applied := e.django.Consume(t, ConsumeArgs{Topic: topic})
	assert.Len(t, applied, sent, "Django applied each committed message once")

	var rows []ServiceAPerson
	require.NoError(t, dbA.Find(&rows).Error)
	want := map[string]expected{}
	for _, p := range rows {
		want[p.UUID] = expected{UUID: p.UUID, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email}
	}
	require.Len(t, want, n-n/8, "service A kept the committed people only")
	assertDjangoRows(t, want, e.django.People(t))
}
