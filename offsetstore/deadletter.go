package offsetstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DeadLetter is a row of logpipe_deadletter: a record a consumer could not
// apply (it did not decode, failed validation, has a version no serializer
// handles, or its save failed permanently), kept with everything needed to
// look at it and apply it again. It is written in the transaction that
// commits the record's offset, so a record is either applied, or dead
// lettered, never lost.
type DeadLetter struct {
	ID int64 `gorm:"primaryKey;autoIncrement"`
	// Consumer is the consumer's name; "" for the unnamed default.
	Consumer string `gorm:"size:200;not null;default:'';index:logpipe_deadletter_topic_key,priority:1"`
	// Topic, Partition and Offset (Kafka), or Topic (the stream), Shard and
	// SequenceNumber (Kinesis) say where the record was.
	Topic          string `gorm:"size:200;not null;index:logpipe_deadletter_topic_key,priority:2"`
	Partition      int32  `gorm:"column:partition;not null;default:0"`
	Offset         int64  `gorm:"column:offset;not null;default:0"`
	Shard          string `gorm:"size:200;not null;default:''"`
	SequenceNumber string `gorm:"size:200;not null;default:''"`
	// Key and Value are the record's, as they were on the wire.
	Key   []byte
	Value []byte `gorm:"not null"`
	// Type and Version are the envelope's, when it got that far.
	Type    string `gorm:"size:200;not null;default:''"`
	Version string `gorm:"size:50;not null;default:''"`
	// ErrorKind is the kind of failure ("invalid message", "validation",
	// "unknown version", "save"); Error its text.
	ErrorKind string `gorm:"size:50;not null"`
	Error     string `gorm:"not null"`
	// Attempts is how many times the save was tried (0 when it never got
	// that far).
	Attempts int `gorm:"not null;default:0"`
	// CreatedAt is when the record was dead-lettered.
	CreatedAt time.Time `gorm:"not null"`
	// SupersededAt, when set, is when a later record with the same key was
	// applied: replaying this one would overwrite newer data.
	SupersededAt *time.Time
}

// TableName returns "logpipe_deadletter".
func (DeadLetter) TableName() string { return "logpipe_deadletter" }

// ErrNoDeadLetterTable is returned when the dead-letter table is missing:
// run Migrate.
var ErrNoDeadLetterTable = errors.New("logpipe/offsetstore: the logpipe_deadletter table does not exist: run offsetstore.Migrate (or `logpipe migrate`)")

// createDeadLetterTable is migration 2.
func createDeadLetterTable(tx *gorm.DB) error {
	if tx.Migrator().HasTable(&DeadLetter{}) {
		return nil
	}
	return tx.Migrator().CreateTable(&DeadLetter{})
}

// HasDeadLetterTable reports whether db has the dead-letter table.
func HasDeadLetterTable(ctx context.Context, db *gorm.DB) bool {
	return db.WithContext(ctx).Migrator().HasTable(&DeadLetter{})
}

// DeadLetterFilter selects dead letters. Zero fields select everything.
type DeadLetterFilter struct {
	Consumer string
	Topic    string
	// IDs, when not empty, selects these rows only.
	IDs []int64
	// Limit caps the rows listed; 0 means 1000.
	Limit int
}

func (f DeadLetterFilter) apply(db *gorm.DB) *gorm.DB {
	db = db.Where("consumer = ?", f.Consumer)
	if f.Topic != "" {
		db = db.Where("topic = ?", f.Topic)
	}
	if len(f.IDs) > 0 {
		db = db.Where("id IN ?", f.IDs)
	}
	return db
}

// ListDeadLetters returns the dead letters f selects, oldest first.
func ListDeadLetters(ctx context.Context, db *gorm.DB, f DeadLetterFilter) ([]DeadLetter, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	var out []DeadLetter
	if err := f.apply(db.WithContext(ctx)).Order("id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: list dead letters: %w", err)
	}
	return out, nil
}

// GetDeadLetter returns one dead letter by id (gorm.ErrRecordNotFound when
// there is none).
func GetDeadLetter(ctx context.Context, db *gorm.DB, id int64) (*DeadLetter, error) {
	var d DeadLetter
	if err := db.WithContext(ctx).Take(&d, id).Error; err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: dead letter %d: %w", id, err)
	}
	return &d, nil
}

// PurgeDeadLetters deletes the dead letters f selects and returns how many.
func PurgeDeadLetters(ctx context.Context, db *gorm.DB, f DeadLetterFilter) (int64, error) {
	res := f.apply(db.WithContext(ctx)).Delete(&DeadLetter{})
	if res.Error != nil {
		return 0, fmt.Errorf("logpipe/offsetstore: purge dead letters: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// OpenDeadLetterKeys returns the keys of the topic's dead letters that no
// later record has superseded yet.
func OpenDeadLetterKeys(ctx context.Context, db *gorm.DB, consumer, topic string) (map[string]bool, error) {
	var keys [][]byte
	err := db.WithContext(ctx).Model(&DeadLetter{}).Where("consumer = ? AND topic = ? AND superseded_at IS NULL", consumer, topic).
		Distinct("key").Pluck("key", &keys).Error
	if err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: dead-letter keys of %q: %w", topic, err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[string(k)] = true
	}
	return out, nil
}

// SupersedeDeadLetters marks the open dead letters of key on topic as
// superseded by a later record, through tx.
func SupersedeDeadLetters(ctx context.Context, tx *gorm.DB, consumer, topic string, key []byte, at time.Time) error {
	err := tx.WithContext(ctx).Model(&DeadLetter{}).
		Where("consumer = ? AND topic = ? AND key = ? AND superseded_at IS NULL", consumer, topic, key).
		Update("superseded_at", at).Error
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: supersede dead letters of key %q: %w", key, err)
	}
	return nil
}
