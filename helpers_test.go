package logpipe_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// memorySettings returns settings on a new memory broker and a new SQLite
// database with the offsets and people tables.
func memorySettings(t testing.TB) (logpipe.Settings, *memory.Broker) {
	t.Helper()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&people.Person{}))
	b := memory.NewBroker(memory.WithAutoCreateTopics(1))
	return logpipe.Settings{Backend: b, DB: db}, b
}

func person(i int) *people.PersonV1 {
	return &people.PersonV1{UUID: people.UUID(uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i >> 8), byte(i)})), FirstName: "First", LastName: "Last"}
}

func peopleIn(t testing.TB, db *gorm.DB) []people.Person {
	t.Helper()
	var out []people.Person
	require.NoError(t, db.Order("id").Find(&out).Error)
	return out
}

// runIdle runs c until it has been idle for a short while.
func runIdle(t testing.TB, c *logpipe.Consumer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Run(ctx)
}

func sendRaw(t testing.TB, b *memory.Broker, topic string, key string, value []byte) {
	t.Helper()
	_, err := b.Append(backend.Message{Topic: topic, Key: []byte(key), Value: value})
	require.NoError(t, err)
}
