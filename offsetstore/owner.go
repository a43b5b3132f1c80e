package offsetstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/logpipe-go/logpipe/backend"
)

// PartitionOwner is a row of logpipe_partition_owner: which generation of
// ownership of a Kafka partition is current, for one consumer name. Under
// group assignment (kafka.Config.GroupAssignment) a process that is given a
// partition claims it (Kafka.Claim): it raises Generation, in a transaction
// of its own, before reading the partition's position; every offset commit
// checks, in the record's transaction, that Generation is still the one it
// claimed. A process that lost the partition meanwhile (a zombie: paused by
// garbage collection or SIGSTOP, stuck in a long save, cut off by the
// network) thus cannot commit it any more, and its transaction rolls back.
type PartitionOwner struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	Consumer string `gorm:"size:200;not null;uniqueIndex:logpipe_partition_owner_uniq,priority:1"`
	Topic    string `gorm:"size:200;not null;uniqueIndex:logpipe_partition_owner_uniq,priority:2"`
	// Partition is the Kafka partition.
	Partition int32 `gorm:"column:partition;not null;uniqueIndex:logpipe_partition_owner_uniq,priority:3"`
	// Generation counts the claims of the partition; the current owner's
	// commits carry it (backend.Checkpoint.Fence).
	Generation int64 `gorm:"not null;default:0"`
	// Member says who claimed it last (the Kafka group member id), for
	// operators.
	Member string `gorm:"size:255;not null;default:''"`
	// ClaimedAt is when it was claimed last.
	ClaimedAt time.Time `gorm:"not null"`
}

// TableName returns "logpipe_partition_owner".
func (PartitionOwner) TableName() string { return "logpipe_partition_owner" }

// ErrFenced is matched by the error of a commit made under a generation of
// ownership that is no longer current: the partition was claimed by another
// process (or again by this one) after the record was read. The record's
// transaction must roll back. It matches backend.ErrFenced.
var ErrFenced = backend.ErrFenced

// FencedError is the error of a fenced commit: it names the partition, the
// offset that was not committed and the generation the commit carried.
type FencedError struct {
	Consumer   string
	Topic      string
	Partition  int32
	Offset     int64
	Generation int64
}

func (e *FencedError) Error() string {
	name := ""
	if e.Consumer != "" {
		name = fmt.Sprintf(" of consumer %q", e.Consumer)
	}
	return fmt.Sprintf("logpipe/offsetstore: commit of %s/%d@%d%s fenced: generation %d of the partition's ownership is no longer current (another process claimed it)",
		e.Topic, e.Partition, e.Offset, name, e.Generation)
}

// Unwrap returns backend.ErrFenced.
func (e *FencedError) Unwrap() error { return backend.ErrFenced }

// Claim makes the caller the current owner of topic's partition for
// consumer: in one transaction it raises the partition's generation in
// logpipe_partition_owner (inserting the row at generation 1) and reads the
// partition's position. It returns the new generation, for the commits of
// the records read from there on (backend.Checkpoint.Fence), and the
// position (ok false when none is stored).
//
// When another process is committing the partition in a transaction that
// has checked its generation, Claim waits for that transaction (it holds
// the row), and so reads its result; a transaction that checks later fails
// with ErrFenced. The wait ends with ctx: give it a deadline, since the
// other process may be frozen with its transaction open.
func (s *Kafka) Claim(ctx context.Context, consumer, topic string, partition int32, member string) (generation int64, pos backend.Position, ok bool, err error) {
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := PartitionOwner{Consumer: consumer, Topic: topic, Partition: partition, Generation: 1, Member: member, ClaimedAt: time.Now().UTC()}
		err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "consumer"}, {Name: "topic"}, {Name: "partition"}},
			DoUpdates: clause.Assignments(map[string]any{
				"generation": gorm.Expr(row.TableName() + ".generation + 1"),
				"member":     member,
				"claimed_at": row.ClaimedAt,
			}),
		}).Create(&row).Error
		if err != nil {
			return fmt.Errorf("raise the generation: %w", err)
		}
		if err := ownerRow(tx, consumer, topic, partition).Pluck("generation", &generation).Error; err != nil {
			return fmt.Errorf("read the generation: %w", err)
		}
		stored, err := s.kafkaLoad(ctx, tx, consumer, topic)
		if err != nil {
			return err
		}
		var next int64
		if next, ok = stored[partition]; ok {
			pos = backend.Position{Topic: topic, Partition: partition, Offset: next - 1}
		}
		return nil
	})
	if err != nil {
		if !s.DB.Migrator().HasTable(&PartitionOwner{}) {
			err = errors.Join(err, ErrNoPartitionOwnerTable)
		}
		return 0, backend.Position{}, false, fmt.Errorf("logpipe/offsetstore: claim %s/%d for consumer %q: %w", topic, partition, consumer, err)
	}
	return generation, pos, ok, nil
}

// ErrNoPartitionOwnerTable is returned by Claim when logpipe_partition_owner
// is missing: run Migrate.
var ErrNoPartitionOwnerTable = errors.New("logpipe/offsetstore: the logpipe_partition_owner table does not exist: run offsetstore.Migrate (or `logpipe migrate`)")

func ownerRow(db *gorm.DB, consumer, topic string, partition int32) *gorm.DB {
	return db.Model(&PartitionOwner{}).Where(map[string]any{"consumer": consumer, "topic": topic, "partition": partition})
}

// checkOwner fails with a *FencedError unless c's partition's generation is
// still c.Fence. It writes the row (to itself), so that it holds the row
// until tx ends: a Claim in between waits for tx, and reads its result.
func checkOwner(db *gorm.DB, c backend.Checkpoint) error {
	res := ownerRow(db, c.Consumer, c.Topic, c.Partition).Where(map[string]any{"generation": c.Fence}).
		Update("generation", gorm.Expr("generation"))
	if res.Error != nil {
		return fmt.Errorf("logpipe/offsetstore: check the owner of %s/%d: %w", c.Topic, c.Partition, res.Error)
	}
	if res.RowsAffected == 0 {
		return &FencedError{Consumer: c.Consumer, Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, Generation: c.Fence}
	}
	return nil
}
