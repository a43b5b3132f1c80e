package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
	"github.com/logpipe-go/logpipe/outbox"
)

// waitListening waits (bounded) until n connections of db LISTEN.
func waitListening(t *testing.T, db *gorm.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got int
		require.NoError(t, db.Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'").Scan(&got).Error)
		if got == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d LISTEN connections, want %d", got, n)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestListenWakesTheRelay: with a ten-minute poll interval, only a
// notification can make the relay send within the test's bounded wait; and
// after its LISTEN connection is killed, it reconnects and catches up.
func TestListenWakesTheRelay(t *testing.T) {
	ctx := context.Background()
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, offsetstore.Migrate(ctx, db))

	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 1))
	s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
	w, err := outbox.NewWriter(s, "t", outbox.WithNotify())
	require.NoError(t, err)
	runRelay(t, s, outbox.WithPollInterval(10*time.Minute), outbox.WithListen(dsn))
	waitListening(t, db, 1)

	send := func(n int) {
		require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
			_, err := w.Send(ctx, tx, &Change{ID: "k", N: n})
			return err
		}))
	}
	send(1)
	waitDrained(t, db, 30*time.Second)
	assert.Len(t, broker.Records("t", 0), 1)

	// Kill the LISTEN connection, then send: the notification is lost, and
	// the relay finds the record when it has reconnected.
	require.NoError(t, db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'").Error)
	send(2)
	waitDrained(t, db, 60*time.Second)
	waitListening(t, db, 1)
	send(3)
	waitDrained(t, db, 30*time.Second)
	recs := broker.Records("t", 0)
	require.Len(t, recs, 3)
	for i, r := range recs {
		assert.Equal(t, int64(i+1), seqOf(t, r.Headers))
	}
}

func TestListenIsRefusedOnSQLite(t *testing.T) {
	_, err := outbox.NewRelay(logpipe.Settings{Backend: memory.NewBroker(), DB: testenv.SQLite(t)}, outbox.WithListen("host=127.0.0.1"))
	require.ErrorContains(t, err, "PostgreSQL")
	_, err = outbox.NewRelay(logpipe.Settings{Backend: memory.NewBroker(), DB: testenv.SQLite(t)}, outbox.WithListen(""))
	require.ErrorContains(t, err, "connection string")
}
