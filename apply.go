package logpipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/clip"
	"github.com/logpipe-go/logpipe/internal/wait"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// groupState is what applyGroup has decided about the records of a group
// across its attempts.
type groupState struct {
	skipped  map[int]error // logged and committed
	dead     map[int]error // dead-lettered in the group's transaction
	attempts map[int]int   // failed saves per record
}

// applyGroup applies recs and commits their offsets in one transaction
// (offsets kept outside the database are committed after it).
//
// No savepoint is taken: a transaction where nothing fails costs only the
// statements of LookupInstance and Save and one offset commit per partition.
// When LookupInstance or Save of a record fails, the transaction is rolled
// back and the group applied again: without the record when it is to be
// skipped (a *ValidationError) or dead-lettered (its save failed
// permanently, or RetryPolicy.SaveAttempts times), with it when its save is
// to be tried again. Whatever the record wrote is undone, and the records
// before it are applied as if it had never been there. Records that fail to
// decode never reach the database and need no replay. A transient failure
// is returned: Run rolls back, reopens and tries again (see RetryPolicy).
func (c *Consumer) applyGroup(ctx context.Context, bc backend.Consumer, d *dispatcher, recs []backend.Record) error {
	outside := false
	if o, ok := bc.(backend.OutsideTransaction); ok {
		outside = o.CommitsOutsideTransaction()
	}
	policy := c.cfg.retry
	st := groupState{skipped: map[int]error{}, dead: map[int]error{}, attempts: map[int]int{}}
	var open map[string]bool
	for {
		replay, replayErr := -1, error(nil)
		open = cloneKeys(c.openKeys)
		c.obs.restart()
		work := func(tx *gorm.DB) error {
			for i, rec := range recs {
				if err, ok := st.skipped[i]; ok {
					c.obs.skip(ctx, &rec, err, false)
					continue
				}
				if err, ok := st.dead[i]; ok {
					if err := c.deadLetter(ctx, tx, rec, err, st.attempts[i]); err != nil {
						return err
					}
					c.obs.skip(ctx, &rec, err, true)
					open[string(rec.Key)] = true
					continue
				}
				rctx, start := c.obs.beforeApply(ctx, &rec)
				s, env, err := d.decode(rec)
				if err != nil {
					c.obs.afterApply(rctx, &rec, start, err)
					if c.cfg.throwErrors {
						return err
					}
					if tx != nil && c.cfg.deadLetters && deadLetterable(err) {
						st.dead[i] = err
						c.obs.markDead()
						if err := c.deadLetter(ctx, tx, rec, err, 0); err != nil {
							return err
						}
						open[string(rec.Key)] = true
						continue
					}
					st.skipped[i] = err
					continue
				}
				err = d.save(rctx, tx, rec, s, env)
				c.obs.afterApply(rctx, &rec, start, err)
				if err != nil {
					if c.cfg.throwErrors || tx == nil && errors.Is(err, ErrSave) {
						return err
					}
					if tx == nil {
						st.skipped[i] = err // nothing to roll back without a database
						continue
					}
					replay, replayErr = i, err
					return err
				}
				if open[string(rec.Key)] {
					if err := offsetstore.SupersedeDeadLetters(ctx, tx, c.cfg.name, rec.Topic, rec.Key, time.Now().UTC()); err != nil {
						return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: err}
					}
					delete(open, string(rec.Key))
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
		if err == nil {
			break
		}
		if replay < 0 || ctx.Err() != nil || IsTransient(replayErr) {
			return err
		}
		// LookupInstance or Save of recs[replay] failed: decide its fate,
		// then apply the group again.
		switch {
		case !errors.Is(replayErr, ErrSave):
			if c.cfg.deadLetters {
				st.dead[replay] = replayErr
			} else {
				st.skipped[replay] = replayErr
			}
		default:
			st.attempts[replay]++
			permanent := isPermanent(replayErr)
			if !permanent && st.attempts[replay] < policy.SaveAttempts {
				c.log.Warn("logpipe: save failed; trying the record again", "attempt", st.attempts[replay], "of", policy.SaveAttempts, "error", replayErr)
				if wait.Sleep(ctx, policy.MinBackoff) != nil {
					return replayErr
				}
				continue
			}
			if !c.cfg.deadLetters {
				return replayErr
			}
			st.dead[replay] = replayErr
		}
	}
	c.openKeys = open
	for i := range recs {
		if err, ok := st.skipped[i]; ok {
			c.logSkipped(err)
		}
		if err, ok := st.dead[i]; ok {
			c.log.Warn("logpipe: record dead-lettered", "position", recs[i].String(), "key", clip.Text(recs[i].Key, clip.Wire), "error", err)
		}
	}
	if !outside {
		return nil
	}
	return c.commitOutside(ctx, bc, recs)
}

// commitOutside commits the offsets of a saved group to the broker, even
// when ctx was cancelled meanwhile (so that a clean shutdown does not apply
// them again on the next run), retrying transient failures for up to
// outsideCommitTimeout.
func (c *Consumer) commitOutside(ctx context.Context, bc backend.Consumer, recs []backend.Record) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outsideCommitTimeout)
	defer cancel()
	b := c.cfg.retry.backoff()
	for _, rec := range lastPerPartition(recs) {
		for {
			err := bc.Commit(cctx, nil, rec)
			if err == nil {
				break
			}
			if !IsTransient(err) || b.Wait(cctx) != nil {
				return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: fmt.Errorf("commit offset to the broker (the record was saved and will be applied again after a restart): %w", err)}
			}
			c.log.Warn("logpipe: committing the offset to the broker failed; trying again", "position", rec.String(), "error", err)
		}
	}
	return nil
}

// outsideCommitTimeout bounds the broker commit that follows a saved group.
const outsideCommitTimeout = 30 * time.Second

// deadLetterable reports whether a record that failed to decode is kept as
// a dead letter: a bad envelope, invalid fields, or a version no serializer
// handles (a newer producer's, say). Ignored and unknown types are not:
// they are meant for other consumers of the topic.
func deadLetterable(err error) bool {
	return errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrValidation) || errors.Is(err, ErrUnknownVersion)
}

// deadLetter writes rec, which failed with err, to the dead-letter table
// through tx.
func (c *Consumer) deadLetter(ctx context.Context, tx *gorm.DB, rec backend.Record, err error, attempts int) error {
	row := offsetstore.DeadLetter{
		Consumer: c.cfg.name, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Shard: rec.Shard, SequenceNumber: rec.SequenceNumber,
		Key: rec.Key, Value: append([]byte{}, rec.Value...), ErrorKind: errorKind(err), Error: err.Error(), Attempts: attempts, CreatedAt: time.Now().UTC(),
	}
	var re *RecordError
	if errors.As(err, &re) {
		row.Type, row.Version = re.Type, re.Version
	}
	if werr := tx.WithContext(ctx).Create(&row).Error; werr != nil {
		return &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrSave, Err: fmt.Errorf("write dead letter: %w", werr)}
	}
	return nil
}

// errorKind names the kind of a record error for the dead-letter table.
func errorKind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{{ErrInvalidMessage, "invalid message"}, {ErrUnknownVersion, "unknown version"}, {ErrValidation, "validation"}, {ErrSave, "save"}} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}

func cloneKeys(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

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
