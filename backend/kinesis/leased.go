package kinesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// startLeases starts the lease keeper of a consumer with Config.Leases.
func (c *Consumer) startLeases(ctx context.Context, opts ConsumerOptions) error {
	l := c.cfg.Leases.withDefaults()
	c.cfg.Leases = &l
	table := &offsetstore.KinesisLeases{DB: opts.DB, Region: c.region, Stream: c.stream, Consumer: c.name}
	c.leases = newKeeper(l, table, c.api, c.stream, c.cfg, c.log)
	return c.leases.start(ctx)
}

// followLeases brings the shards read in line with the leases held: shards
// whose lease was lost are dropped, shards whose lease was taken are read
// from their stored position, loaded after the take committed, and shards
// read to their end whose records were all applied are finished (their
// children may then be leased).
func (c *Consumer) followLeases(ctx context.Context) error {
	evs, fatal := c.leases.drain()
	if fatal != nil {
		return fatal
	}
	for _, ev := range evs {
		if ev.acquired {
			c.acquired = append(c.acquired, ev)
			continue
		}
		c.acquired = slices.DeleteFunc(c.acquired, func(a leaseEvent) bool { return a.shard == ev.shard && a.epoch == ev.epoch })
		if s, ok := c.shards[ev.shard]; ok && s.epoch == ev.epoch {
			c.drop(ev.shard)
		}
	}
	if len(c.acquired) > 0 {
		loaded, err := c.store.Load(ctx, c.name, c.stream)
		if err != nil {
			return fmt.Errorf("logpipe/kinesis: load the positions of leased shards: %w", err)
		}
		pos := make(map[string]string, len(loaded))
		for _, p := range loaded {
			pos[p.Shard] = p.SequenceNumber
		}
		for _, a := range c.acquired {
			if !c.leases.holds(a.shard, a.epoch) {
				continue // lost again meanwhile
			}
			c.drop(a.shard)
			start := c.cfg.ShardIteratorType
			if len(a.parents) > 0 {
				start = types.ShardIteratorTypeTrimHorizon // its records follow the parents'
			}
			s := newShard(a.shard, a.parents, start, pos[a.shard])
			s.epoch, s.leasedAfter = a.epoch, pos[a.shard]
			c.shards[a.shard] = s
			c.order = append(c.order, a.shard)
			sort.Strings(c.order)
			c.log.Debug("logpipe/kinesis: reading leased shard", "shard", a.shard, "epoch", a.epoch, "after", s.after)
		}
		c.acquired = nil
	}
	now := time.Now()
	for _, id := range slices.Clone(c.order) {
		s := c.shards[id]
		if !s.done() || now.Before(s.readAt) {
			continue
		}
		s.readAt = now.Add(minReadInterval)
		last := ""
		if s.ended && s.after != s.leasedAfter {
			last = s.after // finished once the last record handed out is committed
		}
		ok, err := c.leases.finish(ctx, id, s.epoch, last)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.Warn("logpipe/kinesis: finishing a shard's lease failed; will retry", "shard", id, "error", err)
			continue
		}
		if ok {
			c.drop(id)
		}
	}
	return nil
}

// drop stops reading shard id.
func (c *Consumer) drop(id string) {
	if _, ok := c.shards[id]; !ok {
		return
	}
	delete(c.shards, id)
	c.order = slices.DeleteFunc(c.order, func(s string) bool { return s == id })
}

// commitLeased commits cp fenced by the lease of its shard. When the lease
// was lost, nothing is committed, the shard is no longer read, and the
// error (a *offsetstore.LeaseLostError) matches backend.ErrPartitionLost.
func (c *Consumer) commitLeased(ctx context.Context, tx *gorm.DB, cp backend.Checkpoint) error {
	s, ok := c.shards[cp.Shard]
	if !ok {
		return fmt.Errorf("logpipe/kinesis: commit %s: %w", cp.Position,
			&offsetstore.LeaseLostError{Region: c.region, Stream: c.stream, Consumer: c.name, Shard: cp.Shard})
	}
	cp.Fence = s.epoch
	err := c.store.Commit(ctx, tx, cp)
	if errors.Is(err, backend.ErrPartitionLost) {
		c.leases.forget(cp.Shard, s.epoch)
		c.drop(cp.Shard)
	}
	if err != nil {
		return fmt.Errorf("logpipe/kinesis: %w", err)
	}
	return nil
}
