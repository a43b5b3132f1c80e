package outbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
	"github.com/logpipe-go/logpipe/outbox"
)

// relayBinary builds internal/relayproc once per test run.
func relayBinary(t *testing.T) string { return testenv.Build(t, "./internal/relayproc") }

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.CleanupBuilds()
	os.Exit(code)
}

// relayProc is one running relayproc child.
type relayProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// relayFleet starts and kills relay children, and counts the batches they
// reported not sent.
type relayFleet struct {
	t       *testing.T
	bin     string
	env     []string
	mu      sync.Mutex
	procs   []*relayProc
	failed  atomic.Int64 // "batch not sent" warnings
	stderrs sync.WaitGroup
	lastErr atomic.Value // a sample of the children's other output
}

func (f *relayFleet) start() {
	f.t.Helper()
	cmd := exec.Command(f.bin)
	cmd.Env = append(os.Environ(), f.env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(f.t, err)
	require.NoError(f.t, cmd.Start())
	p := &relayProc{cmd: cmd, done: make(chan struct{})}
	f.stderrs.Add(1)
	go func() {
		defer f.stderrs.Done()
		f.count(stderr)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
}

func (f *relayFleet) count(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "batch not sent") {
			f.failed.Add(1)
		} else if strings.TrimSpace(line) != "" {
			f.lastErr.Store(line)
		}
	}
}

// kill SIGKILLs the child whose pid holds the relay's row last (the one
// most likely sending), or the oldest, and starts a replacement.
func (f *relayFleet) kill(holderPID int) {
	f.t.Helper()
	f.mu.Lock()
	idx := 0
	for i, p := range f.procs {
		if p.cmd.Process.Pid == holderPID {
			idx = i
		}
	}
	p := f.procs[idx]
	f.procs = append(f.procs[:idx:idx], f.procs[idx+1:]...)
	f.mu.Unlock()
	require.NoError(f.t, p.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		f.t.Fatal("a relay child did not die within 30 s of SIGKILL")
	}
	f.start()
}

// stopAll ends every child: SIGTERM, SIGKILL after 20 s.
func (f *relayFleet) stopAll() {
	f.mu.Lock()
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	f.stderrs.Wait()
}

// holderPID returns the pid in the relay row's holder ("host:pid"), or 0.
func holderPID(db *gorm.DB) int {
	var holder *string
	if err := db.Raw("SELECT holder FROM "+offsetstore.OutboxRelayTable+" WHERE name = ?", outbox.DefaultName).Scan(&holder).Error; err != nil || holder == nil {
		return 0
	}
	i := strings.LastIndexByte(*holder, ':')
	pid, _ := strconv.Atoi((*holder)[i+1:])
	return pid
}

// received is one record read back from the topic.
type received struct {
	change Change
	seq    int64
}

// readTopic reads every record of topic's partitions, up to the end.
func readTopic(t *testing.T, addr, topic string, partitions int) map[string][]received {
	t.Helper()
	out := map[string][]received{}
	for p := range partitions {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		conn, err := kafkago.DialLeader(ctx, "tcp", addr, topic, p)
		require.NoError(t, err)
		last, err := conn.ReadLastOffset()
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p, MaxWait: 200 * time.Millisecond})
		for off := int64(0); off < last; {
			m, err := r.ReadMessage(ctx)
			require.NoError(t, err)
			off = m.Offset + 1
			var env struct {
				Message Change `json:"message"`
			}
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(string(m.Value), "json:")), &env))
			rec := received{change: env.Message, seq: -1}
			for _, h := range m.Headers {
				if h.Key == outbox.SeqHeader {
					rec.seq, err = strconv.ParseInt(string(h.Value), 10, 64)
					require.NoError(t, err)
				}
			}
			require.Equal(t, env.Message.ID, string(m.Key))
			out[string(m.Key)] = append(out[string(m.Key)], rec)
		}
		require.NoError(t, r.Close())
		cancel()
	}
	return out
}

// TestCrashesAndABrokerRestartLoseNothing: writers commit changes through
// the outbox (one in ten rolled back) while relay processes are killed with
// SIGKILL 20 times and the broker is stopped and started once. Every
// committed change is then on the topic, no rolled-back one, each key's
// changes in commit order, and the duplicates within the documented bound:
// one batch per kill or failed send.
func TestCrashesAndABrokerRestartLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test takes about a minute")
	}
	const (
		committedWanted = 5000
		keys            = 200
		writers         = 4
		kills           = 20
		batch           = 50
		partitions      = 3
		killEvery       = 400 * time.Millisecond
		stopBrokerAt    = 8 // after this many kills
		// hold is a pause of the relay processes between the broker's
		// acknowledgement and the deletion, so that kills land there
		// often and the duplicates they cause are counted.
		hold = 100 * time.Millisecond
	)
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, offsetstore.Migrate(context.Background(), db))
	require.NoError(t, db.AutoMigrate(&Entity{}))
	for i := range keys {
		require.NoError(t, db.Create(&Entity{ID: fmt.Sprintf("k%03d", i)}).Error)
	}
	bin := relayBinary(t)
	k := testenv.NewKafkaBroker(t) // its own broker: the test stops it
	topic := testenv.Name("outbox-crash")
	createTopic(t, k.Addr, topic, partitions)

	fleet := &relayFleet{t: t, bin: bin, env: []string{"RELAYPROC_DSN=" + dsn, "RELAYPROC_BROKERS=" + k.Addr, "RELAYPROC_BATCH=" + strconv.Itoa(batch), "RELAYPROC_HOLD=" + hold.String()}}
	fleet.start()
	fleet.start()
	t.Cleanup(fleet.stopAll)

	w, err := outbox.NewWriter(logpipe.Settings{}, topic)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		committed  atomic.Int64
		mu         sync.Mutex
		rolledBack = map[string]bool{}
		attempts   = map[string]bool{} // committed
		wg         sync.WaitGroup
		werr       = make(chan error, writers)
	)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; committed.Load() < committedWanted; i++ {
				attempt := fmt.Sprintf("w%d-%d", g, i)
				rollback := i%10 == 3
				if _, err := change(ctx, db, w, fmt.Sprintf("k%03d", (i*13+g*7)%keys), attempt, rollback); err != nil {
					werr <- err
					return
				}
				mu.Lock()
				if rollback {
					rolledBack[attempt] = true
				} else {
					attempts[attempt] = true
					committed.Add(1)
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // spread the writes over the kills
			}
		}()
	}

	brokerStopped := false
	for n := 1; n <= kills; n++ {
		time.Sleep(killEvery)
		fleet.kill(holderPID(db))
		if n == stopBrokerAt {
			require.NoError(t, k.Stop(30*time.Second))
			brokerStopped = true
			time.Sleep(2 * time.Second) // relays fail to send meanwhile
			require.NoError(t, k.Start(ctx))
		}
	}
	require.True(t, brokerStopped)
	wg.Wait()
	close(werr)
	for err := range werr {
		require.NoError(t, err)
	}
	waitDrained(t, db, 90*time.Second)
	fleet.stopAll()

	got := readTopic(t, k.Addr, topic, partitions)
	var final []Entity
	require.NoError(t, db.Find(&final).Error)
	total, dups, outOfOrder, badSeq := 0, 0, 0, 0
	seen := map[string]bool{}
	for _, e := range final {
		recs := got[e.ID]
		maxN := 0
		for _, r := range recs {
			total++
			if r.seq != int64(r.change.N) {
				badSeq++
			}
			seen[r.change.Attempt] = true
			switch {
			case r.change.N == maxN+1:
				maxN = r.change.N
			case r.change.N <= maxN:
				dups++ // an older state sent again
			default:
				outOfOrder++
			}
		}
		assert.Equal(t, e.N, maxN, "key %s: every committed change arrived", e.ID)
		if len(recs) > 0 {
			assert.Equal(t, e.N, recs[len(recs)-1].change.N, "key %s: the last record is the latest state", e.ID)
		}
	}
	for a := range attempts {
		assert.True(t, seen[a], "committed change %s is on the topic", a)
	}
	for a := range rolledBack {
		assert.False(t, seen[a], "rolled-back change %s is not on the topic", a)
	}
	assert.Zero(t, outOfOrder, "records of a key arrived out of commit order")
	assert.Zero(t, badSeq, "the seq header equals the key's change number")
	failed := int(fleet.failed.Load())
	bound := (kills + failed) * batch
	t.Logf("committed %d changes (%d rolled back), %d kills, broker restarted once, %d batches not sent; %d records on the topic, %d duplicates (bound %d)",
		len(attempts), len(rolledBack), kills, failed, total, dups, bound)
	assert.GreaterOrEqual(t, len(attempts), committedWanted)
	assert.NotEmpty(t, rolledBack)
	assert.Equal(t, len(attempts)+dups, total)
	assert.LessOrEqual(t, dups, bound)
	assert.Positive(t, failed, "the broker's stop made some batches fail")
}

// createTopic creates a topic of n partitions on the broker at addr.
func createTopic(t *testing.T, addr, name string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafkago.Client{Addr: kafkago.TCP(addr), Timeout: 30 * time.Second}
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: name, NumPartitions: n, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[name])
}
