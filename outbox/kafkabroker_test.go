package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/internal/testenv"
)

// Ports of the crash test's own Kafka broker (the range 49090-49110 is this
// package's).
const (
	ownKafkaPort       = 49091
	ownControllerPort  = 49092
	brokerStartTimeout = 90 * time.Second
	brokerStopTimeout  = 20 * time.Second
)

// ownKafka is a single-node KRaft broker started by the test from the jars
// on $LOGPIPE_TEST_KAFKA_CLASSPATH, so that the test can stop and start it
// without touching the shared broker.
type ownKafka struct {
	t       *testing.T
	dir     string
	props   string
	cmd     *exec.Cmd
	done    chan struct{}
	addr    string
	cmdArgs []string
}

// startOwnKafka formats a new log directory and starts the broker; it is
// stopped when the test ends.
func startOwnKafka(t *testing.T) *ownKafka {
	t.Helper()
	classpath := testenv.Service(t, testenv.EnvKafkaLib, "the Kafka broker's jars")
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is needed to start the test's own broker: %v", err)
	}
	for _, p := range []int{ownKafkaPort, ownControllerPort} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		require.NoError(t, err, "port %d must be free for the test's own broker", p)
		require.NoError(t, l.Close())
	}
	dir := t.TempDir()
	k := &ownKafka{t: t, dir: dir, props: filepath.Join(dir, "server.properties"), addr: fmt.Sprintf("127.0.0.1:%d", ownKafkaPort)}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%[3]s
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
`, ownKafkaPort, ownControllerPort, filepath.Join(dir, "data"))
	require.NoError(t, os.WriteFile(k.props, []byte(props), 0o600))
	log4j := "status = error\nappender.file.type = File\nappender.file.name = File\nappender.file.fileName = " + filepath.Join(dir, "kafka.log") +
		"\nappender.file.layout.type = PatternLayout\nappender.file.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = WARN\nrootLogger.appenderRef.file.ref = File\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "log4j2.properties"), []byte(log4j), 0o600))

	var id [16]byte
	_, _ = rand.Read(id[:])
	id[0] &= 0x7f // a leading "-" would read as an option
	cluster := base64.RawURLEncoding.EncodeToString(id[:])
	ctx, cancel := context.WithTimeout(context.Background(), brokerStartTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "java", k.javaArgs(classpath, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster, "-c", k.props)...).CombinedOutput()
	require.NoError(t, err, "format the KRaft log directory: %s", out)
	k.cmdArgs = k.javaArgs(classpath, "kafka.Kafka", k.props)
	k.Start()
	t.Cleanup(k.Stop)
	return k
}

func (k *ownKafka) javaArgs(classpath string, args ...string) []string {
	return append([]string{"-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + filepath.Join(k.dir, "log4j2.properties"), "-cp", classpath}, args...)
}

// Start starts the broker and waits (bounded) until it answers a metadata
// request.
func (k *ownKafka) Start() {
	t := k.t
	t.Helper()
	out, err := os.OpenFile(filepath.Join(k.dir, "kafka.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	defer out.Close()
	k.cmd = exec.Command("java", k.cmdArgs...)
	k.cmd.Stdout, k.cmd.Stderr = out, out
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, k.cmd.Start())
	k.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(k.cmd, k.done)
	deadline := time.Now().Add(brokerStartTimeout)
	for {
		select {
		case <-k.done:
			t.Fatalf("the test's Kafka broker exited at start:\n%s", k.tail())
		default:
		}
		if k.answers() {
			return
		}
		if time.Now().After(deadline) {
			k.Stop()
			t.Fatalf("the test's Kafka broker does not answer after %s:\n%s", brokerStartTimeout, k.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// answers reports whether the broker serves metadata.
func (k *ownKafka) answers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl := &kafkago.Client{Addr: kafkago.TCP(k.addr), Timeout: 2 * time.Second}
	_, err := cl.Metadata(ctx, &kafkago.MetadataRequest{})
	return err == nil
}

// Stop stops the broker: SIGTERM, then SIGKILL after brokerStopTimeout.
// It is a no-op when the broker is not running.
func (k *ownKafka) Stop() {
	if k.cmd == nil {
		return
	}
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(brokerStopTimeout):
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.done
	}
	k.cmd = nil
}

// CreateTopic creates a topic of n partitions.
func (k *ownKafka) CreateTopic(name string, n int) {
	t := k.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafkago.Client{Addr: kafkago.TCP(k.addr), Timeout: 30 * time.Second}
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: name, NumPartitions: n, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[name])
}

func (k *ownKafka) tail() string {
	var b strings.Builder
	for _, f := range []string{"kafka.out", "kafka.log"} {
		data, _ := os.ReadFile(filepath.Join(k.dir, f))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		b.WriteString(f + ":\n" + string(data) + "\n")
	}
	return b.String()
}
