package offsetstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/logpipe-go/logpipe/backend"
)

// ShardEnd is the Checkpoint of a lease whose shard was read to its end and
// every record of it applied: the shard's children may then be leased.
const ShardEnd = "SHARD_END"

// KinesisLease is a row of logpipe_kinesis_lease: who reads one shard of a
// stream for one consumer when Kinesis consumers share a stream through
// leases (kinesis.Config.Leases). It is logpipe's own table: django-logpipe
// has none.
type KinesisLease struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	Region   string `gorm:"size:20;not null;uniqueIndex:logpipe_kinesis_lease_uniq,priority:1"`
	Stream   string `gorm:"size:200;not null;uniqueIndex:logpipe_kinesis_lease_uniq,priority:2"`
	Consumer string `gorm:"size:200;not null;default:'';uniqueIndex:logpipe_kinesis_lease_uniq,priority:3"`
	Shard    string `gorm:"size:200;not null;uniqueIndex:logpipe_kinesis_lease_uniq,priority:4"`
	// Parents are the shard's parents (split or merged from), comma
	// separated: it is leased only once each is finished.
	Parents string `gorm:"size:500;not null;default:''"`
	// Owner is the process holding the lease; "" when nobody does.
	Owner string `gorm:"size:200;not null;default:''"`
	// Epoch grows by one at every change of owner (including to nobody):
	// a position commit is accepted only under the epoch it was read in.
	Epoch int64 `gorm:"not null;default:0"`
	// Counter grows by one at every renewal. Other processes decide that
	// a lease expired when its counter has not moved for the lease
	// duration on their own clock, so clocks need not agree (as in the
	// AWS KCL).
	Counter int64 `gorm:"not null;default:0"`
	// ExpiresAt is when the owner's lease runs out by the owner's clock,
	// for people reading the table; nobody decides anything on it.
	ExpiresAt *time.Time
	// Checkpoint is the last sequence number committed under a lease, or
	// ShardEnd.
	Checkpoint string `gorm:"size:200;not null;default:''"`
}

// TableName returns "logpipe_kinesis_lease".
func (KinesisLease) TableName() string { return "logpipe_kinesis_lease" }

// ParentIDs returns the shard's parents.
func (l KinesisLease) ParentIDs() []string {
	if l.Parents == "" {
		return nil
	}
	return strings.Split(l.Parents, ",")
}

// createLeaseTable is the lease table's migration.
func createLeaseTable(tx *gorm.DB) error {
	if tx.Migrator().HasTable(&KinesisLease{}) {
		return nil
	}
	return tx.Migrator().CreateTable(&KinesisLease{})
}

// LeaseLostError is returned (wrapped) by a position commit under a lease
// epoch that is no longer the shard's: another process took the shard over.
// Nothing was written. It matches backend.ErrPartitionLost.
type LeaseLostError struct {
	Region, Stream, Consumer, Shard string
	// Epoch is the epoch the commit was made under.
	Epoch int64
}

// Error names the shard and the epoch.
func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("logpipe/offsetstore: lease of %s/%s (region %s, consumer %q) epoch %d is no longer held: another process took the shard over", e.Stream, e.Shard, e.Region, e.Consumer, e.Epoch)
}

// Is reports whether target is backend.ErrPartitionLost.
func (e *LeaseLostError) Is(target error) bool { return target == backend.ErrPartitionLost }

// CheckKinesisLease fences a position commit under a lease: in tx, the
// transaction that commits the position, it updates the shard's lease row
// (its Checkpoint to c.SequenceNumber) on condition that its epoch is still
// c.Fence. When no row matches, the shard was taken over, and the error is a
// *LeaseLostError. The update locks the row until tx ends, so a process
// taking the shard over (which bumps the epoch) waits for tx and then reads
// the position tx committed. A store that keeps Kinesis positions elsewhere
// calls it from its Commit when c.Fence is not 0.
func CheckKinesisLease(ctx context.Context, tx *gorm.DB, region string, c backend.Checkpoint) error {
	res := tx.WithContext(ctx).Model(&KinesisLease{}).
		Where("region = ? AND stream = ? AND consumer = ? AND shard = ? AND epoch = ? AND owner <> ''", region, c.Topic, c.Consumer, c.Shard, c.Fence).
		Update("checkpoint", c.SequenceNumber)
	if res.Error != nil {
		return fmt.Errorf("logpipe/offsetstore: check the lease of %s/%s: %w", c.Topic, c.Shard, res.Error)
	}
	if res.RowsAffected == 0 {
		return &LeaseLostError{Region: region, Stream: c.Topic, Consumer: c.Consumer, Shard: c.Shard, Epoch: c.Fence}
	}
	return nil
}

// commitLeased is Kinesis.Commit under a lease (c.Fence is the lease
// epoch): the lease row is checked, then the position written whatever it
// was, since the lease makes this process the shard's only writer.
func (s *Kinesis) commitLeased(ctx context.Context, tx *gorm.DB, c backend.Checkpoint) error {
	if c.Consumer != "" {
		return fmt.Errorf("logpipe/offsetstore: consumer name %q with shard leases: %w (leases keep the unnamed consumer's positions only)", c.Consumer, backend.ErrUnsupported)
	}
	write := func(tx *gorm.DB) error {
		if err := CheckKinesisLease(ctx, tx, s.Region, c); err != nil {
			return err
		}
		row := &KinesisOffset{Region: s.Region, Stream: c.Topic, Shard: c.Shard, SequenceNumber: c.SequenceNumber}
		err := tx.WithContext(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "region"}, {Name: "stream"}, {Name: "shard"}},
			DoUpdates: clause.AssignmentColumns([]string{"sequence_number"}),
		}).Create(row).Error
		if err != nil {
			return fmt.Errorf("logpipe/offsetstore: commit position %s of %s/%s: %w", c.SequenceNumber, c.Topic, c.Shard, err)
		}
		return nil
	}
	var err error
	if tx != nil {
		err = write(tx)
	} else {
		err = s.DB.WithContext(ctx).Transaction(write)
	}
	if err != nil {
		return err
	}
	s.fence.set(shardKey{c.Topic, c.Shard}, c.SequenceNumber)
	return nil
}

// KinesisLeases reads and changes the lease rows of one stream and consumer
// in logpipe_kinesis_lease. Every change is conditional on what the caller
// last saw (the epoch), so that of two processes racing for a lease one
// wins and the other learns it lost. Its methods are safe for concurrent
// use.
type KinesisLeases struct {
	// DB is the application's database.
	DB *gorm.DB
	// Region, Stream and Consumer select the rows.
	Region, Stream, Consumer string
}

func (l *KinesisLeases) where(db *gorm.DB, shard string) *gorm.DB {
	return db.Model(&KinesisLease{}).Where("region = ? AND stream = ? AND consumer = ? AND shard = ?", l.Region, l.Stream, l.Consumer, shard)
}

// List returns every lease row of the stream and consumer.
func (l *KinesisLeases) List(ctx context.Context) ([]KinesisLease, error) {
	var rows []KinesisLease
	err := l.DB.WithContext(ctx).Where("region = ? AND stream = ? AND consumer = ?", l.Region, l.Stream, l.Consumer).Order("shard").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("logpipe/offsetstore: list the leases of stream %q: %w", l.Stream, err)
	}
	return rows, nil
}

// Ensure creates a free lease row for shard unless it has one.
func (l *KinesisLeases) Ensure(ctx context.Context, shard string, parents []string) error {
	row := &KinesisLease{Region: l.Region, Stream: l.Stream, Consumer: l.Consumer, Shard: shard, Parents: strings.Join(parents, ",")}
	err := l.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "region"}, {Name: "stream"}, {Name: "consumer"}, {Name: "shard"}},
		DoNothing: true,
	}).Create(row).Error
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: create the lease of %s/%s: %w", l.Stream, shard, err)
	}
	return nil
}

// Take makes owner the holder of shard's lease, on condition that its
// epoch is still seen, and returns the new epoch (seen+1); ok is false when
// another process changed the lease first. The change commits in its own
// transaction before Take returns, so the position read afterwards is the
// last one committed under any earlier epoch.
func (l *KinesisLeases) Take(ctx context.Context, shard, owner string, seen int64, expires time.Time) (epoch int64, ok bool, err error) {
	if owner == "" {
		return 0, false, errors.New("logpipe/offsetstore: take a lease: the owner is empty")
	}
	exp := expires.UTC()
	res := l.where(l.DB.WithContext(ctx), shard).Where("epoch = ? AND checkpoint <> ?", seen, ShardEnd).Updates(map[string]any{
		"owner": owner, "epoch": gorm.Expr("epoch + 1"), "counter": gorm.Expr("counter + 1"), "expires_at": &exp,
	})
	if res.Error != nil {
		return 0, false, fmt.Errorf("logpipe/offsetstore: take the lease of %s/%s: %w", l.Stream, shard, res.Error)
	}
	return seen + 1, res.RowsAffected == 1, nil
}

// Renew extends owner's lease of shard under epoch; ok is false when the
// lease is no longer owner's under that epoch.
func (l *KinesisLeases) Renew(ctx context.Context, shard, owner string, epoch int64, expires time.Time) (ok bool, err error) {
	exp := expires.UTC()
	res := l.where(l.DB.WithContext(ctx), shard).Where("owner = ? AND epoch = ?", owner, epoch).Updates(map[string]any{
		"counter": gorm.Expr("counter + 1"), "expires_at": &exp,
	})
	if res.Error != nil {
		return false, fmt.Errorf("logpipe/offsetstore: renew the lease of %s/%s: %w", l.Stream, shard, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Release gives owner's lease of shard back (owner empty, epoch bumped), so
// that another process may take it at once; ok is false when it was no
// longer owner's under epoch.
func (l *KinesisLeases) Release(ctx context.Context, shard, owner string, epoch int64) (ok bool, err error) {
	res := l.where(l.DB.WithContext(ctx), shard).Where("owner = ? AND epoch = ?", owner, epoch).Updates(map[string]any{
		"owner": "", "epoch": gorm.Expr("epoch + 1"), "counter": gorm.Expr("counter + 1"), "expires_at": nil,
	})
	if res.Error != nil {
		return false, fmt.Errorf("logpipe/offsetstore: release the lease of %s/%s: %w", l.Stream, shard, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Finish marks shard read to its end and applied (Checkpoint ShardEnd) and
// releases owner's lease of it, so that its children may be leased. When
// last is not empty, it does so only if the last position committed under
// the lease is last (every record handed out was applied); ok is false when
// that is not so yet, or the lease is no longer owner's under epoch.
func (l *KinesisLeases) Finish(ctx context.Context, shard, owner string, epoch int64, last string) (ok bool, err error) {
	q := l.where(l.DB.WithContext(ctx), shard).Where("owner = ? AND epoch = ?", owner, epoch)
	if last != "" {
		q = q.Where("checkpoint = ?", last)
	}
	res := q.Updates(map[string]any{
		"owner": "", "epoch": gorm.Expr("epoch + 1"), "counter": gorm.Expr("counter + 1"), "expires_at": nil, "checkpoint": ShardEnd,
	})
	if res.Error != nil {
		return false, fmt.Errorf("logpipe/offsetstore: finish the lease of %s/%s: %w", l.Stream, shard, res.Error)
	}
	return res.RowsAffected == 1, nil
}
