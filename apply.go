package logpipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
)

// applyGroup applies recs and commits their offsets in one transaction
// (offsets kept outside the database are committed after it).
//
// No savepoint is taken: a transaction where nothing fails costs only the
// statements of LookupInstance and Save and one offset commit per partition.
// When LookupInstance or Save of a record fails with a *ValidationError (skip
// it), the transaction is rolled back and the group applied again without
// that record, so that whatever it wrote is undone and the records before
// it are applied as if it had never been there. Records that fail to decode
// never reach the database and are skipped without a replay. A save error
// rolls the whole group back and stops the consumer.
func (c *Consumer) applyGroup(ctx context.Context, bc backend.Consumer, d *dispatcher, recs []backend.Record) error {
	outside := false
	if o, ok := bc.(backend.OutsideTransaction); ok {
		outside = o.CommitsOutsideTransaction()
	}
	// skipped[i] is the error for which recs[i] is skipped.
	skipped := make(map[int]error)
	for {
		replay := -1
		work := func(tx *gorm.DB) error {
			for i, rec := range recs {
				if _, ok := skipped[i]; ok {
					continue
				}
				s, env, err := d.decode(rec)
				if err == nil {
					err = d.save(ctx, tx, rec, s, env)
					if err != nil && tx != nil && !errors.Is(err, ErrSave) && !c.cfg.throwErrors {
						replay = i // it may have written something: undo it all
						return err
					}
				}
				if err != nil {
					if errors.Is(err, ErrSave) || c.cfg.throwErrors {
						return err
					}
					skipped[i] = err
				}
			}
			if outside {
				return nil
			}
			for _, rec := range lastPerPartition(recs) {
				if err := bc.Commit(ctx, tx, rec); err != nil {
					return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: fmt.Errorf("commit offset: %w", err)}
				}
			}
			return nil
		}
		var err error
		if db := c.settings.DB; db != nil {
			err = db.WithContext(ctx).Transaction(work)
		} else {
			err = work(nil)
		}
		if err != nil && replay >= 0 && ctx.Err() == nil {
			skipped[replay] = err
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	for i := range recs {
		if err, ok := skipped[i]; ok {
			c.logSkipped(err)
		}
	}
	if !outside {
		return nil
	}
	// The records are saved: commit their offsets even when ctx was
	// cancelled meanwhile, so that a clean shutdown does not apply them
	// again on the next run.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outsideCommitTimeout)
	defer cancel()
	for _, rec := range lastPerPartition(recs) {
		if err := bc.Commit(cctx, nil, rec); err != nil {
			return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: fmt.Errorf("commit offset to the broker (the record was saved and will be applied again after a restart): %w", err)}
		}
	}
	return nil
}

// outsideCommitTimeout bounds the broker commit that follows a saved group.
const outsideCommitTimeout = 10 * time.Second

// lastPerPartition returns, in order of first appearance, the last record of
// each partition or shard in recs: committing it covers the earlier ones.
func lastPerPartition(recs []backend.Record) []backend.Record {
	if len(recs) == 1 {
		return recs
	}
	type part struct {
		p     int32
		shard string
	}
	idx := map[part]int{}
	var out []backend.Record
	for _, r := range recs {
		k := part{r.Partition, r.Shard}
		if i, ok := idx[k]; ok {
			out[i] = r
			continue
		}
		idx[k] = len(out)
		out = append(out, r)
	}
	return out
}
