package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Defaults of the group assignment settings (Config.GroupAssignment).
const (
	DefaultGroupSessionTimeout   = 30 * time.Second
	DefaultGroupHeartbeat        = 3 * time.Second
	DefaultGroupRebalanceTimeout = 30 * time.Second
)

// PartitionClaimer is an OffsetStore that can fence partitions for group
// assignment: offsetstore.Kafka is one. Claim makes the caller the
// partition's current owner for the consumer name, returning the fencing
// token its commits carry (backend.Checkpoint.Fence) and the partition's
// stored position (ok false when none); a later Claim makes commits under an
// older token fail with backend.ErrFenced. See offsetstore.Kafka.Claim.
type PartitionClaimer interface {
	OffsetStore
	Claim(ctx context.Context, consumer, topic string, partition int32, member string) (fence int64, pos backend.Position, ok bool, err error)
}

var _ PartitionClaimer = (*offsetstore.Kafka)(nil)

// claimTimeout bounds one attempt to claim a partition: the claim waits
// for a former owner's commit in flight, which a frozen process may hold
// open for ever. The claim is tried again until the generation ends.
const claimTimeout = 3 * time.Second

// groupID is the consumer group a consumer named name joins: Config.GroupID
// for the unnamed consumer, GroupID + "." + name for a named one, so that
// two named consumers of a topic each get every partition.
func (c Config) groupID(name string) string {
	if name == "" {
		return c.GroupID
	}
	return c.GroupID + "." + name
}

// validateGroup adds to Validate's problems those of the group assignment
// settings.
func (c Config) validateGroup(bad func(format string, args ...any)) {
	if c.GroupAssignment && c.GroupID == "" {
		bad("Config.GroupAssignment needs Config.GroupID: name the consumer group whose members share the partitions")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"GroupSessionTimeout", c.GroupSessionTimeout}, {"GroupHeartbeat", c.GroupHeartbeat}, {"GroupRebalanceTimeout", c.GroupRebalanceTimeout}} {
		if d.d < 0 {
			bad("Config.%s is negative (%s): use 0 for the default or a positive duration", d.name, d.d)
		}
	}
}

// checkGroupAssignment says what in opts group assignment cannot work
// with.
func (c Config) checkGroupAssignment(opts ConsumerOptions) error {
	var errs []error
	if opts.BrokerOffsets {
		errs = append(errs, fmt.Errorf("logpipe/kafka: Config.GroupAssignment keeps offsets in the database; offsets in the broker with it are %w", backend.ErrUnsupported))
	}
	if opts.Offsets != nil {
		if _, ok := opts.Offsets.(PartitionClaimer); !ok {
			errs = append(errs, fmt.Errorf("logpipe/kafka: Config.GroupAssignment needs an offset store that claims partitions (kafka.PartitionClaimer, as offsetstore.Kafka): %T is %w", opts.Offsets, backend.ErrUnsupported))
		}
	}
	return errors.Join(errs...)
}

// fatalGroupError reports whether err, from joining the group, will not go
// away by trying again: the consumer then reports it to Fetch.
func fatalGroupError(err error) bool {
	for _, e := range []kafkago.Error{
		kafkago.InvalidSessionTimeout, kafkago.GroupAuthorizationFailed, kafkago.TopicAuthorizationFailed,
		kafkago.InconsistentGroupProtocol, kafkago.InvalidGroupId, kafkago.SASLAuthenticationFailed,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// SharesPartitions reports whether a consumer of opts shares the topic's
// partitions with other processes (Config.GroupAssignment), so that logpipe
// takes no standby lock for it. It implements backend.SharedAssignment.
func (b *Backend) SharesPartitions(opts backend.ConsumerOptions) bool {
	return b.cfg.GroupAssignment && !opts.BrokerOffsets
}

// startGroup joins the consumer group; partitions come and go with its
// generations (runGroup). The caller holds c.mu.
func (c *Consumer) startGroup() error {
	d := &kafkago.Dialer{ClientID: c.cfg.ClientID, Timeout: c.cfg.DialTimeout}
	if c.cfg.TLS != nil {
		d.DialFunc = tlsDialer(c.cfg.TLS)
	}
	mech, err := saslMechanism(c.cfg.SASL)
	if err != nil {
		return err
	}
	d.SASLMechanism = mech
	debug := kafkago.LoggerFunc(func(msg string, args ...any) {
		c.log.Debug("logpipe/kafka: kafka-go consumer group: " + strings.TrimSpace(fmt.Sprintf(msg, args...)))
	})
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                     c.cfg.groupID(c.name),
		Brokers:                c.cfg.Brokers,
		Dialer:                 d,
		Topics:                 []string{c.topic},
		HeartbeatInterval:      c.cfg.GroupHeartbeat,
		SessionTimeout:         c.cfg.GroupSessionTimeout,
		RebalanceTimeout:       c.cfg.GroupRebalanceTimeout,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: c.cfg.MetadataRefresh,
		JoinGroupBackoff:       time.Second,
		Timeout:                c.cfg.RequestTimeout,
		Logger:                 debug,
		ErrorLogger:            debug,
	})
	if err != nil {
		return fmt.Errorf("logpipe/kafka: consumer group %q of topic %q: %w", c.cfg.groupID(c.name), c.topic, err)
	}
	c.wg.Add(1)
	go c.runGroup(cg)
	return nil
}

// runGroup takes the group's generations one after the other until Close.
func (c *Consumer) runGroup(cg *kafkago.ConsumerGroup) {
	defer c.wg.Done()
	defer func() { _ = cg.Close() }() // leaves the group; waits for the generation's function
	group := c.cfg.groupID(c.name)
	log := c.log.With("group", group)
	failures := 0
	for {
		gen, err := cg.Next(c.ctx)
		switch {
		case c.ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed):
			return
		case errors.Is(err, kafkago.RebalanceInProgress):
			log.Info("logpipe/kafka: group rebalancing; joining again")
			continue
		case fatalGroupError(err):
			c.report(fmt.Errorf("logpipe/kafka: join consumer group %q of topic %q: %w", group, c.topic, err))
			continue
		case err != nil:
			failures++
			if failures == 1 || failures%10 == 0 {
				log.Warn("logpipe/kafka: could not join the consumer group; trying again", "failures", failures, "error", err)
			}
			continue
		}
		failures = 0
		var parts []int32
		for _, a := range gen.Assignments[c.topic] {
			parts = append(parts, int32(a.ID))
		}
		slices.Sort(parts)
		glog := log.With("generation", gen.ID, "member", gen.MemberID)
		glog.Info("logpipe/kafka: group rebalanced: partitions assigned", "partitions", parts)
		c.wg.Add(1)
		gen.Start(func(gctx context.Context) {
			defer c.wg.Done()
			c.runGeneration(gctx, glog, gen.MemberID, parts)
		})
	}
}

// runGeneration reads the partitions one generation of the group assigned
// to this member until the generation ends (a rebalance: kafka-go's
// protocol is eager, every member gives up all its partitions) or the
// consumer closes. It claims each partition before reading it, from the
// position the claim read; a partition whose former owner holds its row
// (a commit in flight, or a frozen process) is claimed when that ends,
// without holding up the others. It returns promptly when the generation
// ends, whatever the application is still applying: what it applies of
// these partitions afterwards is fenced.
func (c *Consumer) runGeneration(gctx context.Context, log *slog.Logger, member string, parts []int32) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stop := context.AfterFunc(gctx, cancel)
	defer stop()
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.claimAndRead(ctx, log, member, p)
		}()
	}
	<-ctx.Done()
	wg.Wait() // no reader starts after this
	c.mu.Lock()
	c.revoke(parts)
	c.mu.Unlock()
	log.Info("logpipe/kafka: group generation ended: partitions released", "partitions", parts)
}

// claimAndRead claims partition p for this generation (ctx), trying again
// until it succeeds or the generation ends, and starts reading it from the
// position the claim read.
func (c *Consumer) claimAndRead(ctx context.Context, log *slog.Logger, member string, p int32) {
	claimer := c.store.(PartitionClaimer)
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, claimTimeout)
		fence, pos, ok, err := claimer.Claim(cctx, c.name, c.topic, p, member)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			next := kafkago.FirstOffset
			if ok {
				next = pos.Offset + 1
			}
			c.mu.Lock()
			if ctx.Err() == nil {
				c.startReader(p, next, fence)
				c.assigned([]int32{p}, nil)
			}
			c.mu.Unlock()
			log.Debug("logpipe/kafka: claimed partition", "partition", p, "offset", next, "fence", fence)
			return
		}
		if errors.Is(err, offsetstore.ErrNoPartitionOwnerTable) {
			c.report(err)
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Warn("logpipe/kafka: could not claim the partition (a former owner's transaction may hold it); trying again", "partition", p, "attempts", attempt, "error", err)
		}
		if wait.Sleep(ctx, retryDelay.Delay(attempt)) != nil {
			return
		}
	}
}

// fenced handles a commit of partition p fenced under token fence: the
// records handed out since the last commit are rolled back by the caller,
// so every partition read is read again from its stored position at the
// next Fetch, and p is no longer read at all when its reader still holds
// that token (another process claimed it; this generation is about to
// end). Called from Commit, so on the Fetch goroutine.
func (c *Consumer) fenced(p int32, fence int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.readers[p]; r != nil && r.fence == fence {
		c.revoke([]int32{p})
		c.log.Warn("logpipe/kafka: partition claimed by another process; no longer reading it", "partition", p, "fence", fence)
	}
	c.rewind = true
}

// rewindReaders restarts every partition reader from its stored position,
// with its token, after a fenced commit rolled back what was handed out.
// The caller holds c.mu.
func (c *Consumer) rewindReaders(ctx context.Context) error {
	c.rewind = false
	if len(c.readers) == 0 {
		return nil
	}
	loaded, err := c.store.Load(ctx, c.name, c.topic)
	if err != nil {
		c.rewind = true
		return fmt.Errorf("logpipe/kafka: load offsets of topic %q to read again after a fenced commit: %w", c.topic, err)
	}
	stored := make(map[int32]int64, len(loaded))
	for _, pos := range loaded {
		stored[pos.Partition] = pos.Offset + 1
	}
	fences := make(map[int32]int64, len(c.readers))
	for p, r := range c.readers {
		fences[p] = r.fence
	}
	for p, fence := range fences {
		c.revoke([]int32{p})
		next, ok := stored[p]
		if !ok {
			next = kafkago.FirstOffset
		}
		c.startReader(p, next, fence)
		c.assigned([]int32{p}, nil)
	}
	c.log.Info("logpipe/kafka: reading the partitions again from their stored positions after a fenced commit")
	return nil
}
