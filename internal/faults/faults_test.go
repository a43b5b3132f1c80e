package faults

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// binary returns the child program's path, built once for the package.
func binary(t *testing.T, pkg string) string { return testenv.Build(t, pkg) }

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.CleanupBuilds()
	os.Exit(code)
}

// tick is the child's message, sent by the tests.
type tick struct {
	ID string `json:"id"`
}

func (*tick) MessageType() string { return "tick" }
func (*tick) Version() int        { return 1 }
func (*tick) KeyField() string    { return "id" }

func kafkaTopic(t *testing.T, partitions int) string {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.Name("lp-faults")
	cl := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 30 * time.Second}
	res, err := cl.CreateTopics(context.Background(), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
	t.Cleanup(func() {
		_, _ = cl.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})
	return topic
}

func kinesisStream(t *testing.T, shards int32) (string, backend.Backend) {
	endpoint := testenv.KinesisEndpoint(t)
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "fault", SecretAccessKey: "fault", Source: "fault test"}, nil
	})
	admin := awskinesis.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: creds}, func(o *awskinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
	name := testenv.Name("lp-faults")
	_, err := admin.CreateStream(context.Background(), &awskinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := admin.DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		require.True(t, time.Now().Before(deadline), "stream not active: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
	return name, kinesis.New(kinesis.Config{Endpoint: endpoint, Region: "eu-west-1", Credentials: creds})
}

func send(t *testing.T, b backend.Backend, topic string, from, to int) {
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: b}, topic)
	require.NoError(t, err)
	defer p.Close()
	batch := make([]logpipe.Message, 0, to-from)
	for i := from; i < to; i++ {
		batch = append(batch, &tick{ID: fmt.Sprintf("tick-%05d", i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = p.SendBatch(ctx, batch)
	require.NoError(t, err)
}

type applied struct {
	ID    string `gorm:"primaryKey"`
	Times int
}

func (applied) TableName() string { return "applieds" }

// checkExactlyOnce checks that ticks 0..n-1 were each applied once.
func checkExactlyOnce(t *testing.T, db *gorm.DB, n int) {
	var rows []applied
	require.NoError(t, db.Find(&rows).Error)
	twice := 0
	for _, r := range rows {
		if r.Times != 1 {
			twice++
		}
	}
	assert.Len(t, rows, n, "every record applied")
	assert.Zero(t, twice, "records applied more than once")
}

// childArgs are the child's flags for a backend.
func childArgs(t *testing.T, kind, topic, dsn string) []string {
	args := []string{"-dsn", dsn, "-backend", kind, "-topic", topic}
	if kind == "kafka" {
		return append(args, "-brokers", testenv.KafkaBrokers(t)[0])
	}
	return append(args, "-endpoint", testenv.KinesisEndpoint(t))
}

// A consumer process killed with SIGKILL 20 times mid-stream, per backend,
// with offsets in PostgreSQL: afterwards every record was applied exactly
// once. Before each kill the child is frozen (SIGSTOP) and PostgreSQL asked
// whether it has a transaction open, so the test counts the kills that
// landed inside one: most must, or the test proves little.
func TestConsumerKilledMidStream(t *testing.T) {
	t.Parallel()
	child := binary(t, "./child")
	for _, kind := range []string{"kafka", "kinesis"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db, dsn := testenv.PostgresDSN(t)
			require.NoError(t, db.AutoMigrate(&applied{}))
			var topic string
			var b backend.Backend
			if kind == "kafka" {
				topic = kafkaTopic(t, 3)
				b = kafka.New(kafka.Config{Brokers: testenv.KafkaBrokers(t)})
			} else {
				topic, b = kinesisStream(t, 2)
			}
			const n, kills = 1500, 20
			send(t, b, topic, 0, n)
			require.NoError(t, migrate(db))

			inTx := 0
			for k := range kills {
				cmd := exec.Command(child, append(childArgs(t, kind, topic, dsn), "-delay", "10ms")...)
				stdout, err := cmd.StdoutPipe()
				require.NoError(t, err)
				cmd.Stderr = os.Stderr
				require.NoError(t, cmd.Start())
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				require.Equal(t, "running\n", line)
				// Kill it while it applies: once it has applied something
				// since it started, a moment later.
				before := countApplied(db)
				waitFor(t, 60*time.Second, func() bool { return countApplied(db) > before })
				time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
				require.NoError(t, cmd.Process.Signal(syscall.SIGSTOP))
				var open int64
				require.NoError(t, db.Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'logpipe-fault-child' AND datname = current_database() AND xact_start IS NOT NULL").Scan(&open).Error)
				if open > 0 {
					inTx++
				}
				require.NoError(t, cmd.Process.Kill())
				_ = cmd.Wait()
				t.Logf("kill %d: transaction open: %v", k+1, open > 0)
			}
			t.Logf("%d of %d kills landed inside an open transaction", inTx, kills)
			assert.Greater(t, inTx, kills/2, "most kills must land inside a transaction")

			// The last run reads to the end and stops when idle.
			cmd := exec.Command(child, append(childArgs(t, kind, topic, dsn), "-delay", "0", "-idle", "3s", "-tx", "50")...)
			cmd.Stderr = os.Stderr
			done := make(chan error, 1)
			require.NoError(t, cmd.Start())
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(120 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the last run did not finish")
			}
			checkExactlyOnce(t, db, n)
		})
	}
}

func migrate(db *gorm.DB) error {
	return offsetstoreMigrate(db)
}

// slowTick is the in-process consumer's serializer for the outage and
// replica tests: it counts applications and takes a little time.
type slowTick struct {
	tick
	logpipe.NoLookup
}

func (s *slowTick) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	time.Sleep(3 * time.Millisecond)
	return tx.WithContext(ctx).Exec("INSERT INTO applieds (id, times) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET times = applieds.times + 1", s.ID).Error
}

func countApplied(db *gorm.DB) int64 {
	var n int64
	db.Model(&applied{}).Count(&n)
	return n
}

// A database outage (every connection cut, new ones refused for 8 seconds)
// in the middle of a stream is ridden out: Run does not return, and every
// record is applied exactly once afterwards. (The default RetryPolicy rides
// out two minutes; 8 seconds keeps the test short.)
func TestDatabaseOutageRiddenOut(t *testing.T) {
	t.Parallel()
	_, dsn := testenv.PostgresDSN(t)
	host, port := dsnHostPort(t, dsn)
	px := newProxy(t, host+":"+port)
	db, err := gorm.Open(postgres.Open(fmt.Sprintf("%s host=127.0.0.1 port=%d", dsn, px.addr().Port)), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	require.NoError(t, migrate(db))
	require.NoError(t, db.AutoMigrate(&applied{}))
	b := newMemory(t, "outage", 2)
	send(t, b, "outage", 0, 300)
	c, err := logpipe.NewConsumer(logpipe.Settings{Backend: b, DB: db}, "outage",
		logpipe.WithRetryPolicy(logpipe.RetryPolicy{MaxBackoff: time.Second}))
	require.NoError(t, err)
	require.NoError(t, c.Register(&slowTick{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, 60*time.Second, func() bool { return countApplied(db) >= 50 })
	px.cut(true)
	send(t, b, "outage", 300, 400) // the broker still takes records
	time.Sleep(8 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Run returned during the outage: %v", err)
	default:
	}
	px.restore()
	waitFor(t, 90*time.Second, func() bool { return countApplied(db) >= 400 })
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a clean stop after the outage")
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	checkExactlyOnce(t, db, 400)
}

// Two replicas started together on one PostgreSQL database: neither stops
// with an error (the second stands by until the first is done), and every
// record is applied exactly once.
func TestTwoReplicasStartedTogether(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			t.Parallel()
			_, dsn := testenv.PostgresDSN(t)
			b := newMemory(t, "replicas", 4)
			send(t, b, "replicas", 0, 200)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			var first *gorm.DB
			for i := range errs {
				db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard}) // a process's own pool
				require.NoError(t, err)
				if i == 0 {
					first = db
					require.NoError(t, migrate(db))
					require.NoError(t, db.AutoMigrate(&applied{}))
				}
				c, err := logpipe.NewConsumer(logpipe.Settings{Backend: b, DB: db}, "replicas", logpipe.WithIdleTimeout(time.Second))
				require.NoError(t, err)
				require.NoError(t, c.Register(&slowTick{}))
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					errs[i] = c.Run(ctx)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				assert.NoError(t, err, "replica %d", i)
			}
			checkExactlyOnce(t, first, 200)
		})
	}
}

// The example consumer stops cleanly on SIGTERM (as Docker, systemd and
// Kubernetes stop it), well within their grace period.
func TestExampleConsumerStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	example := binary(t, "../../examples/kafka/consumer")
	topic := kafkaTopic(t, 1)
	cmd := exec.Command(example, "-brokers", testenv.KafkaBrokers(t)[0], "-topic", topic,
		"-db", filepath.Join(t.TempDir(), "people.db"), "-idle", "0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	time.Sleep(3 * time.Second) // running, waiting for records
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status after SIGTERM; stderr: %s", stderr.String())
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the example consumer ignored SIGTERM")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not met within %s", d)
		time.Sleep(50 * time.Millisecond)
	}
}

// dsnHostPort returns the host and port of a key=value DSN.
func dsnHostPort(t *testing.T, dsn string) (string, string) {
	host, port := "127.0.0.1", "5432"
	for _, kv := range strings.Fields(dsn) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "host":
			host = v
		case "port":
			port = v
		}
	}
	return host, port
}
