package faults

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The group assignment fault tests run several groupchild processes, each
// a consumer in Kafka group assignment mode (kafka.Config.GroupAssignment)
// sharing a 6-partition topic and one PostgreSQL database, and kill,
// freeze, replace or slow them down. The children use short group settings
// so that rebalances take seconds: session timeout 6s (the broker's
// minimum), heartbeat 1s, rebalance timeout 3s. Each test stops by itself
// within about a minute.

// groupApply is a row of the children's group_applies: one application of
// a tick by the process Who.
type groupApply struct {
	Seq  int64 `gorm:"primaryKey;autoIncrement"`
	Tick string
	Who  string
}

func (groupApply) TableName() string { return "group_applies" }

// groupProc is a running groupchild.
type groupProc struct {
	who    string
	cmd    *exec.Cmd
	stderr *testenv.Buffer
	done   chan error
}

// groupEnv is what a test's children share.
type groupEnv struct {
	t     *testing.T
	db    *gorm.DB
	dsn   string
	topic string
	group string
	procs []*groupProc
}

func newGroupEnv(t *testing.T, n int) *groupEnv {
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, migrate(db))
	require.NoError(t, db.AutoMigrate(&groupApply{}))
	topic := kafkaTopic(t, 6)
	send(t, kafka.New(kafka.Config{Brokers: testenv.KafkaBrokers(t)}), topic, 0, n)
	e := &groupEnv{t: t, db: db, dsn: dsn, topic: topic, group: testenv.Name("lp-faults-group")}
	t.Cleanup(func() {
		for _, p := range e.procs {
			_ = p.cmd.Process.Kill()
			<-p.done
			if t.Failed() {
				t.Logf("stderr of %s:\n%s", p.who, p.stderr.String())
			}
		}
	})
	return e
}

// start starts a child named who, with extra flags, and waits until it runs.
func (e *groupEnv) start(who string, extra ...string) *groupProc {
	t := e.t
	args := append([]string{"-dsn", e.dsn, "-brokers", testenv.KafkaBrokers(t)[0], "-topic", e.topic, "-group", e.group, "-who", who}, extra...)
	cmd := exec.Command(binary(t, "./groupchild"), args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &groupProc{who: who, cmd: cmd, stderr: &testenv.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	e.procs = append(e.procs, p)
	go func() { p.done <- cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	require.Equal(t, "running\n", line, "stderr of %s: %s", who, p.stderr.String())
	return p
}

// stop stops p with SIGTERM, as a deployment does, and checks it exits
// cleanly.
func (e *groupEnv) stop(p *groupProc) {
	require.NoError(e.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		require.NoError(e.t, err, "exit of %s; stderr: %s", p.who, p.stderr.String())
	case <-time.After(20 * time.Second):
		e.t.Fatalf("%s ignored SIGTERM", p.who)
	}
}

// kill kills p with SIGKILL.
func (e *groupEnv) kill(p *groupProc) {
	require.NoError(e.t, p.cmd.Process.Kill())
	err := <-p.done
	p.done <- err
}

// waitApplied waits until every one of n ticks was applied, for at most d.
func (e *groupEnv) waitApplied(n int, d time.Duration) {
	waitFor(e.t, d, func() bool {
		var got int64
		e.db.Model(&groupApply{}).Distinct("tick").Count(&got)
		return got >= int64(n)
	})
}

// checkOnce checks that each of the n ticks was applied exactly once, and
// returns how many each process applied.
func (e *groupEnv) checkOnce(n int) map[string]int {
	var rows []groupApply
	require.NoError(e.t, e.db.Find(&rows).Error)
	seen := map[string]int{}
	shares := map[string]int{}
	for _, r := range rows {
		seen[r.Tick]++
		shares[r.Who]++
	}
	twice := 0
	for _, times := range seen {
		if times > 1 {
			twice++
		}
	}
	assert.Len(e.t, seen, n, "every record applied")
	assert.Zero(e.t, twice, "records applied more than once")
	assert.Len(e.t, rows, n, "applications")
	e.t.Logf("applied by each process: %v", shares)
	return shares
}

// Three processes share the topic; one is killed with SIGKILL (its
// partitions move once its session times out), and a fourth joins later.
// Every record is applied exactly once, and every process that ran to the
// end applied a share.
func TestGroupMembersKilledAndJoining(t *testing.T) {
	const n = 5000
	e := newGroupEnv(t, n)
	a := e.start("a", "-delay", "3ms")
	b := e.start("b", "-delay", "3ms")
	c := e.start("c", "-delay", "3ms")
	time.Sleep(2 * time.Second)
	e.kill(b)
	time.Sleep(1500 * time.Millisecond)
	d := e.start("d", "-delay", "3ms")
	e.waitApplied(n, 60*time.Second)
	for _, p := range []*groupProc{a, c, d} {
		e.stop(p)
	}
	shares := e.checkOnce(n)
	for _, who := range []string{"a", "c", "d"} {
		assert.Positive(t, shares[who], "%s applied a share", who)
	}
	assert.Contains(t, a.stderr.String(), "group rebalanced", "rebalances are logged")
}

// A process frozen with SIGSTOP inside a transaction, before its commit
// checked the partition's generation, until the other process has claimed
// all its partitions, then resumed (SIGCONT): its transaction commits
// nothing (its commit is fenced) and nothing is applied twice.
func TestGroupMemberFrozenThenResumed(t *testing.T) {
	const n = 3000
	e := newGroupEnv(t, n)
	a := e.start("a", "-delay", "5ms")
	e.start("b", "-delay", "5ms")
	time.Sleep(3 * time.Second) // both members hold partitions
	frozen := false
	for range 40 {
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGSTOP))
		// Inside a transaction that has not yet checked (and so locked)
		// its partition's row of logpipe_partition_owner.
		var open, checked int64
		require.NoError(t, e.db.Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'logpipe-group-a' AND datname = current_database() AND xact_start IS NOT NULL").Scan(&open).Error)
		require.NoError(t, e.db.Raw("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON l.pid = s.pid WHERE s.application_name = 'logpipe-group-a' AND l.relation = 'logpipe_partition_owner'::regclass").Scan(&checked).Error)
		if frozen = open > 0 && checked == 0; frozen {
			break
		}
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGCONT))
		time.Sleep(37 * time.Millisecond)
	}
	require.True(t, frozen, "a was frozen inside a transaction, before its commit")
	// The rows a's open transaction inserted have sequence numbers up to
	// last, and are not committed: count a's committed rows up to there.
	var last int64
	require.NoError(t, e.db.Raw("SELECT last_value FROM group_applies_seq_seq").Scan(&last).Error)
	aUpTo := func() int64 {
		var k int64
		require.NoError(t, e.db.Model(&groupApply{}).Where("who = ? AND seq <= ?", "a", last).Count(&k).Error)
		return k
	}
	before := aUpTo()
	// b claims a's partitions once a's session times out.
	waitFor(t, 40*time.Second, func() bool {
		var k int64
		e.db.Table("logpipe_partition_owner").Where("member LIKE ?", "b-%").Count(&k)
		return k == 6
	})
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGCONT))
	e.waitApplied(n, 60*time.Second)
	for _, p := range e.procs {
		e.stop(p)
	}
	e.checkOnce(n)
	fenced := strings.Count(a.stderr.String(), "commit fenced")
	after := aUpTo()
	t.Logf("a had applied %d when it froze; fenced commits of a: %d", before, fenced)
	assert.Positive(t, fenced, "a's transaction, open across the freeze, was fenced")
	assert.Equal(t, before, after, "a's transaction, open across the freeze, committed nothing")
}

// Each process is replaced in turn (SIGTERM, then a new one), as a rolling
// deployment does, while the records are applied: nothing is lost or
// applied twice.
func TestGroupRollingRestart(t *testing.T) {
	const n = 6000
	e := newGroupEnv(t, n)
	running := []*groupProc{e.start("a", "-delay", "3ms"), e.start("b", "-delay", "3ms"), e.start("c", "-delay", "3ms")}
	for i := range running {
		time.Sleep(2 * time.Second)
		e.stop(running[i])
		running[i] = e.start(running[i].who+"2", "-delay", "3ms")
	}
	e.waitApplied(n, 60*time.Second)
	for _, p := range running {
		e.stop(p)
	}
	shares := e.checkOnce(n)
	applied := 0
	for _, who := range []string{"a2", "b2", "c2"} {
		applied += shares[who]
	}
	assert.Positive(t, applied, "the replacements applied records")
}

// A member whose save outlasts the rebalance timeout (12s against 3s)
// while a second process joins: the group moves on without it, the
// partition is claimed again, and the slow transaction's commit is fenced;
// the record is applied once, by its owner.
func TestGroupSlowSaveFenced(t *testing.T) {
	const n = 600
	e := newGroupEnv(t, n)
	a := e.start("a", "-slow-id", "tick-00005", "-slow-for", "12s")
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(a.stderr.String(), "groupchild: slow save") })
	b := e.start("b")
	e.waitApplied(n, 60*time.Second)
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(a.stderr.String(), "commit fenced") })
	e.stop(a)
	e.stop(b)
	e.checkOnce(n)
	var slow []groupApply
	require.NoError(t, e.db.Where("tick = ?", "tick-00005").Find(&slow).Error)
	require.Len(t, slow, 1)
	t.Logf("tick-00005 applied by %s", slow[0].Who)
}

// Two named consumers of one topic on one database, each run by two
// processes in group assignment: each name applies every record once
// (each name is a group of its own, with positions of its own).
func TestGroupNamedConsumersOfOneTopic(t *testing.T) {
	const n = 2000
	e := newGroupEnv(t, n)
	for _, name := range []string{"indexer", "billing"} {
		for i := range 2 {
			e.start(fmt.Sprintf("%s-%d", name, i), "-name", name)
		}
	}
	waitFor(t, 60*time.Second, func() bool {
		var got int64
		e.db.Model(&groupApply{}).Count(&got)
		return got >= 2*n
	})
	for _, p := range e.procs {
		e.stop(p)
	}
	for _, name := range []string{"indexer", "billing"} {
		var total, distinct int64
		require.NoError(t, e.db.Model(&groupApply{}).Where("who LIKE ?", name+"-%").Count(&total).Error)
		require.NoError(t, e.db.Model(&groupApply{}).Where("who LIKE ?", name+"-%").Distinct("tick").Count(&distinct).Error)
		assert.EqualValues(t, n, distinct, "%s applied every record", name)
		assert.EqualValues(t, n, total, "%s applied each record once", name)
	}
	var named int64
	require.NoError(t, e.db.Table("logpipe_consumer_offset").Where("consumer IN ?", []string{"indexer", "billing"}).Count(&named).Error)
	assert.EqualValues(t, 12, named, "each name has a position per partition")
	var django int64
	require.NoError(t, e.db.Table("logpipe_kafkaoffset").Count(&django).Error)
	assert.Zero(t, django, "named consumers leave django-logpipe's table alone")
}
