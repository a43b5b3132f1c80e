package interop

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// A database whose offsets tables Go created (offsetstore.Migrate) moves to
// Django as the README says: "migrate" fails on the existing tables until
// "migrate logpipe --fake" records the original's migrations.
func TestDjangoMigrateGoCreatedTables(t *testing.T) {
	NewDjango(t, DjangoConfig{Backend: "kafka"}) // skips before a database is made when the venv is missing
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, offsetstore.Migrate(context.Background(), db))
	require.NoError(t, db.Exec(`INSERT INTO logpipe_kafkaoffset (topic, "partition", "offset") VALUES ('people', 0, 3000000000)`).Error)
	dj := NewDjango(t, DjangoConfig{Backend: "kafka", DSN: dsn})

	_, err := dj.Run(context.Background(), "migrate", "-v0", "--no-input")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `relation "logpipe_kafkaoffset" already exists`)

	dj.MustRun(t, "migrate", "logpipe", "--fake", "-v0", "--no-input")
	dj.Migrate(t)

	// Django reads the row Go wrote, 64-bit offset included.
	out := dj.MustRun(t, "shell", "--no-imports", "-c", "from logpipe.models import KafkaOffset; print(KafkaOffset.objects.get(topic='people', partition=0).offset)")
	assert.Equal(t, "3000000000\n", string(out))
}
