package logpipe

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// ErrSuperseded is returned by ReplayDeadLetter for a dead letter whose key
// has had a later record applied since: replaying it would overwrite newer
// data. Replay it with force to apply it all the same, or purge it.
var ErrSuperseded = errors.New("logpipe: a later record with the same key has been applied since")

// ReplayDeadLetter applies the dead letter id of this consumer's topic again,
// through the serializers registered now (fixed code, a new version), in a
// transaction that also deletes the dead letter: applied and removed, or
// neither. A dead letter whose key a later record has superseded is refused
// with ErrSuperseded unless force is set. Offsets are not touched. It may be
// called while the consumer runs.
func (c *Consumer) ReplayDeadLetter(ctx context.Context, id int64, force bool) error {
	db := c.settings.DB
	if db == nil {
		return errors.New("logpipe: ReplayDeadLetter needs Settings.DB")
	}
	dl, err := offsetstore.GetDeadLetter(ctx, db, id)
	if err != nil {
		return err
	}
	if dl.Topic != c.topic || dl.Consumer != c.cfg.name {
		return fmt.Errorf("logpipe: dead letter %d is of topic %q and consumer %q, not of this consumer's %q and %q", id, dl.Topic, dl.Consumer, c.topic, c.cfg.name)
	}
	if dl.SupersededAt != nil && !force {
		return fmt.Errorf("logpipe: dead letter %d (key %q, superseded at %s): %w", id, dl.Key, dl.SupersededAt.Format("2006-01-02T15:04:05Z"), ErrSuperseded)
	}
	rec := backend.Record{
		Position: backend.Position{Topic: dl.Topic, Partition: dl.Partition, Offset: dl.Offset, Shard: dl.Shard, SequenceNumber: dl.SequenceNumber},
		Key:      dl.Key, Value: dl.Value, Timestamp: dl.CreatedAt,
	}
	d := c.disp.Load()
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		s, env, err := d.decode(rec)
		if err != nil {
			return err
		}
		if err := d.save(ctx, tx, rec, s, env); err != nil {
			return err
		}
		res := tx.Delete(&offsetstore.DeadLetter{}, id)
		if res.Error != nil {
			return fmt.Errorf("logpipe: delete dead letter %d: %w", id, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("logpipe: dead letter %d was replayed or purged meanwhile", id)
		}
		return nil
	})
}
