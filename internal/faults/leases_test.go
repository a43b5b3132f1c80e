package faults

import (
	"bufio"
	"context"
	"fmt"
	"math/big"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// The lease duration of the children in these tests: short, so that a dead
// or frozen process's shards move within seconds. (The default is 20s.)
const testLeases = 2 * time.Second

// appliedBy is the child's table with -owner: each tick, how many times it
// was applied and by which process last.
type appliedBy struct {
	ID    string `gorm:"primaryKey"`
	Times int
	Owner string
}

func (appliedBy) TableName() string { return "applieds" }

// leaseChild is a child consumer process sharing a stream through leases.
type leaseChild struct {
	owner string
	cmd   *exec.Cmd
	mu    sync.Mutex
	log   strings.Builder
	done  chan error
}

// startLeaseChild starts a child with leases as owner and waits until it
// runs. Its log is kept for the test's assertions (and printed on failure).
func startLeaseChild(t *testing.T, bin, stream, dsn, owner string, extra ...string) *leaseChild {
	t.Helper()
	args := append(childArgs(t, "kinesis", stream, dsn), "-leases", testLeases.String(), "-owner", owner)
	c := &leaseChild{owner: owner, cmd: exec.Command(bin, append(args, extra...)...), done: make(chan error, 1)}
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := c.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.log.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
		}
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	require.Equal(t, "running\n", line, "child %s did not start: %s", owner, c.logs())
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Signal(syscall.SIGCONT)
		_ = c.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("log of %s:\n%s", owner, c.logs())
		}
	})
	return c
}

func (c *leaseChild) logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// stop ends the child with SIGTERM and requires a clean exit.
func (c *leaseChild) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-c.done:
		require.NoError(t, err, "exit of %s after SIGTERM; log:\n%s", c.owner, c.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s ignored SIGTERM", c.owner)
	}
}

// kill ends the child with SIGKILL.
func (c *leaseChild) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	<-c.done
}

// leaseTestDB returns a new PostgreSQL database with the logpipe tables and
// the children's applieds table, and its DSN.
func leaseTestDB(t *testing.T) (*gorm.DB, string) {
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, migrate(db))
	require.NoError(t, db.AutoMigrate(&appliedBy{}))
	return db, dsn
}

// owners returns how many leases of stream each owner holds ("" for free).
func owners(t *testing.T, db *gorm.DB, stream string) map[string]int {
	t.Helper()
	rows, err := (&offsetstore.KinesisLeases{DB: db, Region: "eu-west-1", Stream: stream}).List(context.Background())
	require.NoError(t, err)
	out := map[string]int{}
	for _, r := range rows {
		if r.Checkpoint != offsetstore.ShardEnd {
			out[r.Owner]++
		}
	}
	return out
}

// appliedPer returns how many ticks each owner applied.
func appliedPer(t *testing.T, db *gorm.DB) map[string]int64 {
	t.Helper()
	var rows []struct {
		Owner string
		N     int64
	}
	require.NoError(t, db.Raw("SELECT owner, count(*) AS n FROM applieds GROUP BY owner").Scan(&rows).Error)
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Owner] = r.N
	}
	return out
}

// checkOnce checks that ticks 0..n-1 were each applied exactly once.
func checkOnce(t *testing.T, db *gorm.DB, n int) {
	t.Helper()
	var total, twice int64
	require.NoError(t, db.Model(&appliedBy{}).Count(&total).Error)
	require.NoError(t, db.Model(&appliedBy{}).Where("times <> 1").Count(&twice).Error)
	assert.EqualValues(t, n, total, "every record applied")
	assert.Zero(t, twice, "records applied more than once")
}

// Three processes share a 4-shard stream through leases; one is killed with
// SIGKILL mid-stream, and a fourth joins later. Every record is applied
// exactly once, and each process applied a share: the killed one before it
// died, the others after taking its leases over once they expired, the one
// that joined after taking a lease from the busiest.
func TestLeasesThreeProcessesOneKilledOneJoins(t *testing.T) {
	t.Parallel()
	bin := binary(t, "./child")
	db, dsn := leaseTestDB(t)
	stream, b := kinesisStream(t, 4)
	send(t, b, stream, 0, 1200)

	var procs []*leaseChild
	for i := 1; i <= 3; i++ {
		procs = append(procs, startLeaseChild(t, bin, stream, dsn, fmt.Sprintf("p%d", i), "-delay", "10ms"))
	}
	waitFor(t, 30*time.Second, func() bool { o := owners(t, db, stream); return o["p1"] > 0 && o["p2"] > 0 && o["p3"] > 0 })
	waitFor(t, 30*time.Second, func() bool { return appliedPer(t, db)["p1"] >= 50 })
	procs[0].kill(t)
	t.Logf("p1 killed after %v", appliedPer(t, db))
	send(t, b, stream, 1200, 1800)
	waitFor(t, 30*time.Second, func() bool { return owners(t, db, stream)["p1"] == 0 })

	p4 := startLeaseChild(t, bin, stream, dsn, "p4", "-delay", "10ms")
	waitFor(t, 30*time.Second, func() bool { return owners(t, db, stream)["p4"] > 0 })
	send(t, b, stream, 1800, 2400)
	waitFor(t, 80*time.Second, func() bool { return countApplied(db) >= 2400 })
	for _, p := range []*leaseChild{procs[1], procs[2], p4} {
		p.stop(t)
	}
	checkOnce(t, db, 2400)
	per := appliedPer(t, db)
	t.Logf("applied per process: %v", per)
	for _, o := range []string{"p1", "p2", "p3", "p4"} {
		assert.Positive(t, per[o], "%s applied a share", o)
	}
	assert.Contains(t, procs[1].logs()+procs[2].logs(), "reason=expired", "p1's leases taken over after expiry")
	assert.Contains(t, p4.logs(), "reason=balance", "p4 took a lease from the busiest process")
	assert.Equal(t, map[string]int{"": 4}, owners(t, db, stream), "SIGTERM gave every lease back")
}

// A process frozen with SIGSTOP while it applies records, until its leases
// expire and move to the other process, then resumed: the commit it was
// about to make is refused (the shard is logged as taken over), it commits
// nothing for the shards it lost, and nothing is applied twice.
func TestLeasesStoppedProcessCommitsNothingAfterResuming(t *testing.T) {
	t.Parallel()
	bin := binary(t, "./child")
	db, dsn := leaseTestDB(t)
	stream, b := kinesisStream(t, 4)
	const n = 1600
	send(t, b, stream, 0, n)

	p1 := startLeaseChild(t, bin, stream, dsn, "p1", "-delay", "20ms")
	p2 := startLeaseChild(t, bin, stream, dsn, "p2", "-delay", "20ms")
	waitFor(t, 30*time.Second, func() bool { o := owners(t, db, stream); return o["p1"] == 2 && o["p2"] == 2 })
	waitFor(t, 30*time.Second, func() bool { return appliedPer(t, db)["p1"] >= 20 })
	freezeOutsideWrites(t, db, p1)
	frozenAt := appliedPer(t, db)["p1"]
	waitFor(t, 30*time.Second, func() bool { return owners(t, db, stream)["p2"] == 4 })
	base := appliedPer(t, db)["p2"]
	waitFor(t, 30*time.Second, func() bool { return appliedPer(t, db)["p2"] >= base+100 })
	assert.Equal(t, frozenAt, appliedPer(t, db)["p1"], "a frozen process commits nothing")
	require.NoError(t, p1.cmd.Process.Signal(syscall.SIGCONT))

	waitFor(t, 80*time.Second, func() bool { return countApplied(db) >= n })
	p1.stop(t)
	p2.stop(t)
	checkOnce(t, db, n)
	logs := p1.logs()
	assert.Contains(t, logs, "lease lost", "p1 learnt it lost its leases")
	assert.Contains(t, logs, "taken over by another consumer", "p1's pending commit was refused")
	t.Logf("applied per process: %v", appliedPer(t, db))
}

// A rolling restart of three processes sharing a stream (each in turn
// stopped with SIGTERM, which gives its leases back, and started again)
// while records arrive: nothing is lost and nothing applied twice.
func TestLeasesRollingRestartLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	bin := binary(t, "./child")
	db, dsn := leaseTestDB(t)
	stream, b := kinesisStream(t, 4)
	send(t, b, stream, 0, 800)
	procs := make([]*leaseChild, 3)
	for i := range procs {
		procs[i] = startLeaseChild(t, bin, stream, dsn, fmt.Sprintf("r%d", i), "-delay", "10ms")
	}
	waitFor(t, 30*time.Second, func() bool { return countApplied(db) >= 100 })
	for i := range procs {
		procs[i].stop(t)
		assert.NotContains(t, owners(t, db, stream), procs[i].owner, "%s gave its leases back", procs[i].owner)
		send(t, b, stream, 800+i*200, 1000+i*200)
		before := countApplied(db)
		procs[i] = startLeaseChild(t, bin, stream, dsn, fmt.Sprintf("r%d-new", i), "-delay", "10ms")
		waitFor(t, 30*time.Second, func() bool { return countApplied(db) >= before+50 })
	}
	waitFor(t, 80*time.Second, func() bool { return countApplied(db) >= 1400 })
	for _, p := range procs {
		p.stop(t)
	}
	checkOnce(t, db, 1400)
	t.Logf("applied per process: %v", appliedPer(t, db))
}

// freezeOutsideWrites stops c with SIGSTOP at a moment when its open
// transaction, if any, has written nothing yet (PostgreSQL gave it no
// transaction id): frozen after a write, it would hold row locks that keep
// the new owner of its shards waiting until it resumes, and the test would
// wait with it. (Applications should bound that with PostgreSQL's
// idle_in_transaction_session_timeout; the test freezes around it.)
func freezeOutsideWrites(t *testing.T, db *gorm.DB, c *leaseChild) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGSTOP))
		var writing int64
		require.NoError(t, db.Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND backend_xid IS NOT NULL", "logpipe-fault-"+c.owner).Scan(&writing).Error)
		var inTx int64
		require.NoError(t, db.Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND xact_start IS NOT NULL", "logpipe-fault-"+c.owner).Scan(&inTx).Error)
		if writing == 0 {
			t.Logf("%s frozen after %d attempts, inside a transaction: %v", c.owner, attempt+1, inTx > 0)
			return
		}
		require.Less(t, attempt, 50, "%s always frozen after a write", c.owner)
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGCONT))
		time.Sleep(time.Duration(5+attempt) * time.Millisecond)
	}
}

// keyed is the child's message whose key several messages share.
type keyed struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

func (*keyed) MessageType() string { return "keyed" }
func (*keyed) Version() int        { return 1 }
func (*keyed) KeyField() string    { return "key" }

// keyOrder is the child's per-key record of keyed messages.
type keyOrder struct {
	Key        string `gorm:"primaryKey"`
	LastSeq    int
	OutOfOrder int
}

// sendKeyed sends seq from..to-1 of each of nkeys keys, in order per key.
func sendKeyed(t *testing.T, b backend.Backend, stream string, nkeys, from, to int) {
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: b}, stream)
	require.NoError(t, err)
	defer p.Close()
	var batch []logpipe.Message
	for seq := from; seq < to; seq++ {
		for k := range nkeys {
			batch = append(batch, &keyed{ID: fmt.Sprintf("k%02d-%04d", k, seq), Key: fmt.Sprintf("k%02d", k), Seq: seq})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = p.SendBatch(ctx, batch)
	require.NoError(t, err)
}

// A leased shard split mid-stream while two processes share the stream:
// the parent is finished (SHARD_END) before its children are leased, every
// record is applied exactly once, and each key's records in order.
func TestLeasesSplitMidStreamKeepsPerKeyOrder(t *testing.T) {
	t.Parallel()
	bin := binary(t, "./child")
	db, dsn := leaseTestDB(t)
	require.NoError(t, db.AutoMigrate(&keyOrder{}))
	stream, b := kinesisStream(t, 2)
	const keys, perRound = 16, 25
	sendKeyed(t, b, stream, keys, 0, perRound)
	p1 := startLeaseChild(t, bin, stream, dsn, "s1", "-delay", "5ms")
	p2 := startLeaseChild(t, bin, stream, dsn, "s2", "-delay", "5ms")
	waitFor(t, 30*time.Second, func() bool { return countApplied(db) >= 50 })

	admin := kinesisAdmin(t)
	out, err := admin.ListShards(context.Background(), &awskinesis.ListShardsInput{StreamName: aws.String(stream)})
	require.NoError(t, err)
	require.Len(t, out.Shards, 2)
	parent := out.Shards[0]
	lo, _ := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	_, err = admin.SplitShard(context.Background(), &awskinesis.SplitShardInput{
		StreamName: aws.String(stream), ShardToSplit: parent.ShardId, NewStartingHashKey: aws.String(mid.String()),
	})
	require.NoError(t, err)
	waitStreamActive(t, admin, stream)
	sendKeyed(t, b, stream, keys, perRound, 2*perRound)
	sendKeyed(t, b, stream, keys, 2*perRound, 3*perRound)

	const n = keys * 3 * perRound
	waitFor(t, 80*time.Second, func() bool { return countApplied(db) >= n })
	p1.stop(t)
	p2.stop(t)
	checkOnce(t, db, n)
	var orders []keyOrder
	require.NoError(t, db.Find(&orders).Error)
	require.Len(t, orders, keys)
	for _, o := range orders {
		assert.Equal(t, 3*perRound-1, o.LastSeq, "key %s: last record applied last", o.Key)
		assert.Zero(t, o.OutOfOrder, "key %s: records applied out of order", o.Key)
	}
	rows, err := (&offsetstore.KinesisLeases{DB: db, Region: "eu-west-1", Stream: stream}).List(context.Background())
	require.NoError(t, err)
	ends := 0
	for _, r := range rows {
		if r.Checkpoint == offsetstore.ShardEnd {
			ends++
			assert.Equal(t, aws.ToString(parent.ShardId), r.Shard, "only the split parent is finished")
		}
	}
	assert.Equal(t, 1, ends, "the parent's lease is finished")
	assert.Len(t, rows, 4, "leases of the two shards and the two children")
	t.Logf("applied per process: %v", appliedPer(t, db))
}

// kinesisAdmin is a client of the emulator for resharding.
func kinesisAdmin(t *testing.T) *awskinesis.Client {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "fault", SecretAccessKey: "fault", Source: "fault test"}, nil
	})
	endpoint := testenv.KinesisEndpoint(t)
	return awskinesis.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: creds}, func(o *awskinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func waitStreamActive(t *testing.T, admin *awskinesis.Client, stream string) {
	waitFor(t, 30*time.Second, func() bool {
		out, err := admin.DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		return err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
	})
}
