package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// deadletters list, show and purge read what a consumer dead-lettered; a
// purge without --execute changes nothing.
func TestDeadLettersListShowPurge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := gorm.Open(sqlite.Open(path), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, offsetstore.Migrate(ctx, db))
	require.NoError(t, db.AutoMigrate(&people.Person{}))
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("people", 1))
	for _, v := range []string{"json:{broken", "msgpack:\xc1"} {
		_, err := b.Append(backend.Message{Topic: "people", Key: []byte("k"), Value: []byte(v)})
		require.NoError(t, err)
	}
	c, err := logpipe.NewConsumer(logpipe.Settings{Backend: b, DB: db}, "people", logpipe.WithLimit(2))
	require.NoError(t, err)
	require.NoError(t, c.Register(&people.PersonV1{}))
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, c.Run(rctx))

	dsn := "sqlite:" + path
	var rows []offsetstore.DeadLetter
	cliJSON(t, &rows, "deadletters", "list", "--db", dsn)
	require.Len(t, rows, 2)
	assert.Equal(t, "invalid message", rows[0].ErrorKind)

	out, err := cli(t, "deadletters", "list", "--db", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "invalid message")
	out, err = cli(t, "deadletters", "show", strconv.FormatInt(rows[0].ID, 10), "--db", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "json:{broken")
	_, err = cli(t, "deadletters", "show", "999", "--db", dsn)
	assert.ErrorContains(t, err, "no dead letter 999")

	out, err = cli(t, "deadletters", "purge", "--topic", "people", "--db", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "2 dead letter(s) would be purged")
	cliJSON(t, &rows, "deadletters", "list", "--db", dsn)
	require.Len(t, rows, 2, "a dry run purges nothing")
	out, err = cli(t, "deadletters", "purge", strconv.FormatInt(rows[0].ID, 10), "--execute", "--db", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "purged 1")
	cliJSON(t, &rows, "deadletters", "list", "--db", dsn)
	assert.Len(t, rows, 1)
	_, err = cli(t, "deadletters", "purge", "--db", dsn)
	assert.ErrorContains(t, err, "nothing is purged by default")
}
