package kinesis

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Lease defaults, for LeaseConfig fields left at zero.
const (
	// DefaultLeaseDuration is how long a lease lives without renewal
	// before another process takes it over: the longest a dead process's
	// shards wait. See LeaseConfig.Duration for sizing.
	DefaultLeaseDuration = 20 * time.Second
	// DefaultLeaseRenewDivisor makes the default renewal interval a
	// quarter of the lease duration (5s for the default 20s).
	DefaultLeaseRenewDivisor = 4
	// releaseTimeout bounds the release of the leases in Close.
	releaseTimeout = 5 * time.Second
)

// LeaseConfig turns shard leases on (Config.Leases): consumer processes of
// one stream, sharing one database, divide the shards among themselves
// through the table logpipe_kinesis_lease (created by offsetstore.Migrate),
// as the AWS KCL does with its DynamoDB lease table. Each process holds
// leases on about shards/processes shards, reads only those, renews them in
// the background, takes over the leases of a process that stopped renewing
// them, takes one lease at a time from the busiest process when it has
// fewer than its share, and gives its leases back when it closes. A child
// shard is leased only once each parent is read to its end and applied.
//
// Every position commit is fenced by the lease: it updates the lease row
// in the record's transaction on condition that the lease epoch is still
// the one the record was read under, and fails with an error matching
// backend.ErrPartitionLost otherwise, so a process that lost a lease
// (paused, slowed down, cut off) commits nothing more for that shard.
type LeaseConfig struct {
	// Owner names this process in the lease table, up to 200 characters.
	// It must differ between processes. Empty means hostname-pid-random,
	// which does; set it (a pod name, say) to read the table more easily.
	Owner string
	// Duration is how long a lease lives without renewal: when a process
	// dies, its shards are read again by others after about Duration plus
	// Renew. Others measure it on their own clock, by watching the lease's
	// renewal counter (clocks need not agree). Size it above the longest
	// pause a live process may take (garbage collection, a database
	// stall), or its leases move needlessly; a lease that moves costs
	// re-reading the records fetched and not yet applied, never a double
	// application. Zero means DefaultLeaseDuration (20s).
	Duration time.Duration
	// Renew is how often leases are renewed, and the table read for
	// leases to take. It must be less than half of Duration. Zero means a
	// quarter of Duration.
	Renew time.Duration
}

// withDefaults returns l with its zero fields set.
func (l LeaseConfig) withDefaults() LeaseConfig {
	if l.Duration == 0 {
		l.Duration = DefaultLeaseDuration
	}
	if l.Renew == 0 {
		l.Renew = l.Duration / DefaultLeaseRenewDivisor
	}
	if l.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = crand.Read(b[:])
		l.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
		if len(l.Owner) > 200 {
			l.Owner = l.Owner[len(l.Owner)-200:]
		}
	}
	return l
}

// validate reports every problem with l.
func (l LeaseConfig) validate() []error {
	var errs []error
	if l.Duration < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: Leases.Duration %s is negative: use a positive duration, or 0 for the default %s", l.Duration, DefaultLeaseDuration))
	}
	if l.Renew < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: Leases.Renew %s is negative: use a positive duration, or 0 for a quarter of Duration", l.Renew))
	}
	if d := l.withDefaults(); l.Duration >= 0 && l.Renew >= 0 && d.Renew*2 >= d.Duration {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: Leases.Renew %s is not less than half of Leases.Duration %s: a lease would expire between two renewals", d.Renew, d.Duration))
	}
	if len(l.Owner) > 200 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: Leases.Owner is %d characters long: use at most 200 (the width of logpipe_kinesis_lease.owner)", len(l.Owner)))
	}
	return errs
}

var _ backend.SharedAssignment = (*Backend)(nil)

// SharesPartitions reports whether the backend's consumers share a
// stream's shards among processes through leases (Config.Leases): logpipe
// then takes no standby lock.
func (b *Backend) SharesPartitions(backend.ConsumerOptions) bool { return b.cfg.Leases != nil }

// held is a lease this process holds.
type held struct {
	epoch int64
	// renewed is when the last successful renewal (or the take) started.
	renewed time.Time
}

// leaseEvent tells Fetch that a lease was taken or lost.
type leaseEvent struct {
	shard    string
	epoch    int64
	parents  []string
	acquired bool
}

// observation is what the keeper last saw of a lease row, and when that
// changed: a lease whose row has not changed for the lease duration has
// expired.
type observation struct {
	owner   string
	epoch   int64
	counter int64
	at      time.Time
}

// keeper holds this process's leases: a goroutine, started by NewConsumer
// and stopped by Close, renews them, lists the shards, and takes leases to
// reach this process's share. Fetch learns of leases taken and lost through
// drain.
type keeper struct {
	cfg       LeaseConfig
	table     *offsetstore.KinesisLeases
	api       API
	stream    string
	timeout   time.Duration // one Kinesis call
	syncEvery time.Duration
	log       *slog.Logger

	mu       sync.Mutex
	held     map[string]*held
	events   []leaseEvent
	fatal    error
	listSoon bool

	// Used by the keeper's goroutine only.
	seen     map[string]observation
	listed   map[string][]string // shard → parents, from the last listing
	lastList time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

func newKeeper(cfg LeaseConfig, table *offsetstore.KinesisLeases, api API, stream string, c Config, log *slog.Logger) *keeper {
	return &keeper{
		cfg: cfg, table: table, api: api, stream: stream, timeout: c.RequestTimeout, syncEvery: c.ShardSyncInterval,
		log:  log.With("owner", cfg.Owner),
		held: map[string]*held{}, seen: map[string]observation{},
	}
}

// start lists the shards and creates their lease rows (so that a missing
// stream, or a listing refused for good, is reported at once), then starts
// the goroutine. A listing that failed transiently (throttled, say) is
// retried by the goroutine.
func (k *keeper) start(ctx context.Context) error {
	if err := k.list(ctx); err != nil {
		var missing *MissingStreamError
		if errors.As(err, &missing) || !isTransient(err) {
			return err
		}
		k.log.Warn("logpipe/kinesis: listing shards failed; will retry", "error", err)
	}
	rows, err := k.table.List(ctx)
	if err != nil {
		return fmt.Errorf("logpipe/kinesis: %w", err)
	}
	if err := k.ensure(ctx, rows); err != nil {
		return fmt.Errorf("logpipe/kinesis: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	k.cancel, k.done = cancel, make(chan struct{})
	go k.run(rctx)
	return nil
}

// run renews and balances every cfg.Renew until ctx ends.
func (k *keeper) run(ctx context.Context) {
	defer close(k.done)
	t := time.NewTicker(k.cfg.Renew)
	defer t.Stop()
	for {
		k.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stop ends the goroutine and gives every lease back.
func (k *keeper) stop() error {
	if k.cancel == nil {
		return nil
	}
	k.cancel()
	<-k.done
	k.cancel = nil
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for shard, h := range k.held {
		ok, err := k.table.Release(ctx, shard, k.cfg.Owner, h.epoch)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			k.log.Info("logpipe/kinesis: lease released", "shard", shard, "epoch", h.epoch)
		}
		delete(k.held, shard)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("logpipe/kinesis: release leases (they expire after %s): %w", k.cfg.Duration, err)
	}
	return nil
}

// drain returns the leases taken and lost since the last call, and an
// error that Fetch must return (a missing stream).
func (k *keeper) drain() ([]leaseEvent, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	evs := k.events
	k.events = nil
	return evs, k.fatal
}

// forget drops the lease of shard under epoch, which the table says is no
// longer this process's (a commit was fenced off).
func (k *keeper) forget(shard string, epoch int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, ok := k.held[shard]; ok && h.epoch == epoch {
		delete(k.held, shard)
		k.log.Info("logpipe/kinesis: lease lost", "shard", shard, "epoch", epoch, "reason", "a commit found it taken over")
	}
}

// finish marks shard read to its end and applied and releases it; see
// offsetstore.KinesisLeases.Finish. ok is false when not every record
// handed out has been committed yet.
func (k *keeper) finish(ctx context.Context, shard string, epoch int64, last string) (bool, error) {
	ok, err := k.table.Finish(ctx, shard, k.cfg.Owner, epoch, last)
	if err != nil || !ok {
		return false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, held := k.held[shard]; held && h.epoch == epoch {
		delete(k.held, shard)
	}
	k.listSoon = true
	k.log.Info("logpipe/kinesis: shard read to its end and applied; lease released for its children", "shard", shard, "epoch", epoch)
	return true, nil
}

// tick renews the leases held, lists the shards when due, and takes leases
// up to this process's share.
func (k *keeper) tick(ctx context.Context) {
	k.renew(ctx)
	k.mu.Lock()
	soon := k.listSoon
	k.listSoon = false
	k.mu.Unlock()
	if soon || time.Since(k.lastList) >= k.syncEvery {
		if err := k.list(ctx); err != nil {
			var missing *MissingStreamError
			if errors.As(err, &missing) {
				k.mu.Lock()
				k.fatal = err
				k.mu.Unlock()
				return
			}
			if ctx.Err() == nil {
				k.log.Warn("logpipe/kinesis: listing shards failed; will retry", "error", err)
			}
		}
	}
	rows, err := k.table.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn("logpipe/kinesis: reading the lease table failed; will retry", "error", err)
		}
		return
	}
	if err := k.ensure(ctx, rows); err != nil && ctx.Err() == nil {
		k.log.Warn("logpipe/kinesis: creating lease rows failed; will retry", "error", err)
	}
	k.balance(ctx, rows)
}

// renew renews every lease held. A lease whose row no longer has this
// process's epoch is lost; one that could not be renewed for the lease
// duration (the database is unreachable) is given up.
func (k *keeper) renew(ctx context.Context) {
	k.mu.Lock()
	type lease struct {
		shard string
		epoch int64
		at    time.Time
	}
	var leases []lease
	for shard, h := range k.held {
		leases = append(leases, lease{shard, h.epoch, h.renewed})
	}
	k.mu.Unlock()
	for _, l := range leases {
		start := time.Now()
		ok, err := k.table.Renew(ctx, l.shard, k.cfg.Owner, l.epoch, start.Add(k.cfg.Duration))
		switch {
		case err == nil && ok:
			k.mu.Lock()
			if h, held := k.held[l.shard]; held && h.epoch == l.epoch {
				h.renewed = start
			}
			k.mu.Unlock()
		case err == nil:
			k.lose(l.shard, l.epoch, "taken over by another process")
		case ctx.Err() != nil:
			return
		default:
			k.log.Warn("logpipe/kinesis: renewing a lease failed; will retry", "shard", l.shard, "error", err)
			if time.Since(l.at) >= k.cfg.Duration {
				k.lose(l.shard, l.epoch, "not renewed within the lease duration")
			}
		}
	}
}

// lose drops a lease held and tells Fetch.
func (k *keeper) lose(shard string, epoch int64, reason string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h, ok := k.held[shard]
	if !ok || h.epoch != epoch {
		return
	}
	delete(k.held, shard)
	k.events = append(k.events, leaseEvent{shard: shard, epoch: epoch})
	k.log.Info("logpipe/kinesis: lease lost", "shard", shard, "epoch", epoch, "reason", reason)
}

// list lists the stream's shards (every page) into k.listed.
func (k *keeper) list(ctx context.Context) error {
	listed := map[string][]string{}
	in := &kinesis.ListShardsInput{StreamName: aws.String(k.stream)}
	for {
		out, err := withTimeout(ctx, k.timeout, func(ctx context.Context) (*kinesis.ListShardsOutput, error) {
			return k.api.ListShards(ctx, in, noSDKRetries)
		})
		if err != nil {
			if isNotFound(err) {
				return &MissingStreamError{Stream: k.stream, Region: k.table.Region, Err: err}
			}
			return fmt.Errorf("logpipe/kinesis: list shards of stream %q: %w", k.stream, err)
		}
		for _, sh := range out.Shards {
			listed[aws.ToString(sh.ShardId)] = parentsOf(sh.ParentShardId, sh.AdjacentParentShardId)
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	k.listed, k.lastList = listed, time.Now()
	return nil
}

// ensure creates the lease rows of listed shards that have none.
func (k *keeper) ensure(ctx context.Context, rows []offsetstore.KinesisLease) error {
	have := make(map[string]bool, len(rows))
	for _, r := range rows {
		have[r.Shard] = true
	}
	for shard, parents := range k.listed {
		if !have[shard] {
			if err := k.table.Ensure(ctx, shard, parents); err != nil {
				return err
			}
		}
	}
	return nil
}

// balance takes leases until this process holds its share of the shards
// that may be read now (listed, not finished, every parent finished):
// first leases nobody holds or whose owner stopped renewing them, then, if
// none, one lease from the process holding the most when it holds more
// than the share or at least two more than this process.
func (k *keeper) balance(ctx context.Context, rows []offsetstore.KinesisLease) {
	now := time.Now()
	byShard := make(map[string]offsetstore.KinesisLease, len(rows))
	for _, r := range rows {
		byShard[r.Shard] = r
		o := observation{owner: r.Owner, epoch: r.Epoch, counter: r.Counter, at: now}
		if prev, ok := k.seen[r.Shard]; ok && prev.owner == o.owner && prev.epoch == o.epoch && prev.counter == o.counter {
			o.at = prev.at
		}
		k.seen[r.Shard] = o
	}
	finished := func(shard string) bool {
		if r, ok := byShard[shard]; ok && r.Checkpoint == offsetstore.ShardEnd {
			return true
		}
		_, listed := k.listed[shard]
		return !listed // trimmed: nothing more to read
	}
	k.mu.Lock()
	mine := 0
	for shard, h := range k.held {
		if r, ok := byShard[shard]; ok && r.Epoch == h.epoch {
			mine++
		}
	}
	k.mu.Unlock()
	var takeable []offsetstore.KinesisLease
	others := map[string][]offsetstore.KinesisLease{}
	leasable := 0
	for _, r := range rows {
		if _, listed := k.listed[r.Shard]; !listed || r.Checkpoint == offsetstore.ShardEnd || !all(r.ParentIDs(), finished) {
			continue
		}
		leasable++
		switch {
		case r.Owner == k.cfg.Owner && k.holds(r.Shard, r.Epoch):
		case r.Owner == "", r.Owner == k.cfg.Owner, now.Sub(k.seen[r.Shard].at) >= k.cfg.Duration:
			takeable = append(takeable, r)
		default:
			others[r.Owner] = append(others[r.Owner], r)
		}
	}
	if leasable == 0 {
		return
	}
	workers := len(others) + 1
	target := (leasable + workers - 1) / workers
	rand.Shuffle(len(takeable), func(i, j int) { takeable[i], takeable[j] = takeable[j], takeable[i] })
	took := false
	for _, r := range takeable {
		if mine >= target || ctx.Err() != nil {
			return
		}
		reason := "free"
		if r.Owner != "" {
			reason = "expired"
		}
		if k.take(ctx, r, reason) {
			mine++
			took = true
		}
	}
	if took || mine >= target {
		return
	}
	var busiest string
	for owner, ls := range others {
		if busiest == "" || len(ls) > len(others[busiest]) || len(ls) == len(others[busiest]) && owner < busiest {
			busiest = owner
		}
	}
	if n := len(others[busiest]); busiest != "" && (n > target || n >= mine+2) {
		ls := others[busiest]
		k.take(ctx, ls[rand.IntN(len(ls))], "balance")
	}
}

// holds reports whether this process holds shard's lease under epoch.
func (k *keeper) holds(shard string, epoch int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	h, ok := k.held[shard]
	return ok && h.epoch == epoch
}

// take takes r's lease (bumping its epoch) and tells Fetch.
func (k *keeper) take(ctx context.Context, r offsetstore.KinesisLease, reason string) bool {
	start := time.Now()
	epoch, ok, err := k.table.Take(ctx, r.Shard, k.cfg.Owner, r.Epoch, start.Add(k.cfg.Duration))
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn("logpipe/kinesis: taking a lease failed; will retry", "shard", r.Shard, "error", err)
		}
		return false
	}
	if !ok {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held[r.Shard] = &held{epoch: epoch, renewed: start}
	k.events = append(k.events, leaseEvent{shard: r.Shard, epoch: epoch, parents: r.ParentIDs(), acquired: true})
	k.log.Info("logpipe/kinesis: lease taken", "shard", r.Shard, "epoch", epoch, "from", r.Owner, "reason", reason)
	return true
}

func all(xs []string, f func(string) bool) bool {
	return !slices.ContainsFunc(xs, func(x string) bool { return !f(x) })
}
