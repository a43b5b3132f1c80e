package offsetstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SchemaTable is the table in which Migrate records the schema versions it
// has applied, one row each.
const SchemaTable = "logpipe_schema_version"

// SchemaVersion is one applied migration: a row of SchemaTable.
type SchemaVersion struct {
	// Version is the migration's number.
	Version int `gorm:"primaryKey;autoIncrement:false"`
	// Description says what it changed.
	Description string `gorm:"size:200;not null"`
	// AppliedAt is when it was applied.
	AppliedAt time.Time `gorm:"not null"`
}

// TableName returns SchemaTable.
func (SchemaVersion) TableName() string { return SchemaTable }

// migration is one numbered change of the schema. Each runs once, inside
// the transaction that records its version.
type migration struct {
	version     int
	description string
	apply       func(tx *gorm.DB) error
}

// migrations are the schema's changes, in order. Append new ones; never
// change or renumber one that has been released (CHANGELOG.md lists them).
var migrations = []migration{
	{1, "django-logpipe's offsets tables (logpipe_kafkaoffset, logpipe_kinesisoffset), unless Django created them", createOffsetTables},
	{2, "logpipe_deadletter: records a consumer could not apply", createDeadLetterTable},
	{3, "the outbox's tables (logpipe_outbox, logpipe_outbox_seq, logpipe_outbox_relay), for package outbox", createOutboxTables},
	{4, "logpipe_consumer_offset (named consumers' positions) and logpipe_partition_owner (group assignment's fencing)", createConsumerTables},
	{5, "logpipe_kinesis_lease: Kinesis shard leases shared by consumer processes", createLeaseTable},
}

// LatestSchemaVersion is the version Migrate brings a database to.
var LatestSchemaVersion = migrations[len(migrations)-1].version

// migrateLockID is the PostgreSQL advisory lock that serializes Migrate
// runs of several processes ("logpipe" in ASCII).
const migrateLockID = 0x6c6f6770697065

// Migrate brings db's logpipe tables to LatestSchemaVersion, like the
// original's "manage.py migrate logpipe": each numbered migration not yet
// recorded in SchemaTable is applied and recorded, in one transaction.
// Tables that exist, including those created by Django, are left as they
// are.
//
// Several processes may run Migrate at once (replicas starting together):
// on PostgreSQL the runs are serialized by an advisory lock held for the
// transaction; on SQLite by the database's write lock, taken by the first
// statement. Whoever comes second finds the work done. Other databases
// get the same steps without the lock.
func Migrate(ctx context.Context, db *gorm.DB) error {
	if db == nil {
		return errors.New("logpipe/offsetstore: Migrate needs a database")
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockID).Error; err != nil {
				return fmt.Errorf("take the migration lock: %w", err)
			}
		}
		// A write first: on SQLite it takes the write lock, so that two
		// runs do not both read an old version.
		if err := tx.Exec(createSchemaTable(tx.Name())).Error; err != nil {
			return fmt.Errorf("create %s: %w", SchemaTable, err)
		}
		var applied []int
		if err := tx.Model(&SchemaVersion{}).Pluck("version", &applied).Error; err != nil {
			return fmt.Errorf("read %s: %w", SchemaTable, err)
		}
		done := map[int]bool{}
		for _, v := range applied {
			done[v] = true
		}
		for _, m := range migrations {
			if done[m.version] {
				continue
			}
			if err := m.apply(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.description, err)
			}
			row := SchemaVersion{Version: m.version, Description: m.description, AppliedAt: time.Now().UTC()}
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: migrate: %w", err)
	}
	return nil
}

// CurrentSchemaVersion returns the highest migration recorded in db, or 0
// when Migrate has never run there.
func CurrentSchemaVersion(ctx context.Context, db *gorm.DB) (int, error) {
	if !db.WithContext(ctx).Migrator().HasTable(SchemaTable) {
		return 0, nil
	}
	var v *int
	if err := db.WithContext(ctx).Model(&SchemaVersion{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("logpipe/offsetstore: read %s: %w", SchemaTable, err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// createSchemaTable is the DDL of SchemaTable, IF NOT EXISTS, which GORM's
// migrator cannot say in one statement.
func createSchemaTable(dialect string) string {
	ts := "TIMESTAMP"
	if dialect == "postgres" {
		ts = "TIMESTAMPTZ"
	}
	return "CREATE TABLE IF NOT EXISTS " + SchemaTable + " (version INTEGER NOT NULL PRIMARY KEY, description VARCHAR(200) NOT NULL, applied_at " + ts + " NOT NULL)"
}

// createOffsetTables is migration 1: the offsets tables, when missing.
func createOffsetTables(tx *gorm.DB) error {
	m := tx.Migrator()
	for _, model := range []any{&KafkaOffset{}, &KinesisOffset{}} {
		if m.HasTable(model) {
			continue
		}
		if err := m.CreateTable(model); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	}
	return nil
}
