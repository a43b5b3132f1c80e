package offsetstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/libtnb/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// openers returns, per database, a function that opens a new connection
// pool to one fresh, empty database: as many processes would.
func openers(t *testing.T) map[string]func() *gorm.DB {
	t.Helper()
	out := map[string]func() *gorm.DB{}
	path := filepath.Join(t.TempDir(), "migrate.db")
	out["sqlite"] = func() *gorm.DB {
		db, err := gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
		require.NoError(t, err)
		t.Cleanup(func() {
			if s, err := db.DB(); err == nil {
				_ = s.Close()
			}
		})
		return db
	}
	if _, ok := testenv.Databases(t)["postgres"]; ok {
		_, dsn := testenv.PostgresDSN(t)
		out["postgres"] = func() *gorm.DB {
			db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
			require.NoError(t, err)
			t.Cleanup(func() {
				if s, err := db.DB(); err == nil {
					_ = s.Close()
				}
			})
			return db
		}
	}
	return out
}

// Migrate run by several processes at once (replicas starting together):
// every run succeeds, each migration is applied and recorded once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const n = 6
			dbs := make([]*gorm.DB, n)
			for i := range dbs {
				dbs[i] = open()
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i, db := range dbs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = offsetstore.Migrate(context.Background(), db)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				assert.NoError(t, err, "run %d", i)
			}
			v, err := offsetstore.CurrentSchemaVersion(context.Background(), dbs[0])
			require.NoError(t, err)
			assert.Equal(t, offsetstore.LatestSchemaVersion, v)
			var rows []offsetstore.SchemaVersion
			require.NoError(t, dbs[0].Order("version").Find(&rows).Error)
			require.Len(t, rows, offsetstore.LatestSchemaVersion, "each migration recorded once")
			for i, r := range rows {
				assert.Equal(t, i+1, r.Version)
				assert.NotEmpty(t, r.Description)
			}
			m := dbs[0].Migrator()
			assert.True(t, m.HasTable(&offsetstore.KafkaOffset{}))
			assert.True(t, m.HasTable(&offsetstore.KinesisOffset{}))
		})
	}
}

// A database Migrate never saw is at version 0; after it, at the latest.
func TestSchemaVersionRecorded(t *testing.T) {
	t.Parallel()
	db := testenv.SQLiteEmpty(t)
	v, err := offsetstore.CurrentSchemaVersion(context.Background(), db)
	require.NoError(t, err)
	assert.Equal(t, 0, v)
	require.NoError(t, offsetstore.Migrate(context.Background(), db))
	require.NoError(t, offsetstore.Migrate(context.Background(), db), "Migrate is idempotent")
	v, err = offsetstore.CurrentSchemaVersion(context.Background(), db)
	require.NoError(t, err)
	assert.Equal(t, offsetstore.LatestSchemaVersion, v)
}
