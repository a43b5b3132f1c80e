//go:build linux

package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// KafkaBroker is an Apache Kafka broker of a test's own: a single-node
// KRaft broker (controller and broker in one JVM, plaintext only, a small
// heap) on free 127.0.0.1 ports, which the test may stop gracefully, kill,
// freeze and start again, as the shared test broker must never be. It is
// built from the jars of LOGPIPE_TEST_KAFKA_CLASSPATH (scripts/services/
// kafka.sh sets it). It stops by itself: when the test ends (t.Cleanup),
// when the test process dies (the kernel kills it, Pdeathsig), and after
// MaxLife whatever happens.
type KafkaBroker struct {
	// Addr is the broker's plaintext listener, "127.0.0.1:port".
	Addr string

	dir, props, classpath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	frozen  bool
	closed  bool
	stopAll *time.Timer
}

// KafkaBrokerMaxLife is how long a KafkaBroker runs at most: it is killed
// then even if the test is still running.
const KafkaBrokerMaxLife = 15 * time.Minute

// kafkaStartTimeout bounds a broker's start, JVM included, on a loaded
// machine.
const kafkaStartTimeout = 3 * time.Minute

// NewKafkaBroker formats a new broker's storage, starts it and waits until
// it answers metadata requests. It skips the test (fails it when services
// are required) when LOGPIPE_TEST_KAFKA_CLASSPATH is not set. The broker is
// killed and its files removed when t ends.
func NewKafkaBroker(t testing.TB) *KafkaBroker {
	t.Helper()
	cp := Service(t, EnvKafkaLib, "the Apache Kafka jars")
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("an own Kafka broker needs java: %v", err)
	}
	dir := t.TempDir()
	port, cport := freePort(t), freePort(t)
	b := &KafkaBroker{
		Addr:      fmt.Sprintf("127.0.0.1:%d", port),
		dir:       dir,
		props:     filepath.Join(dir, "server.properties"),
		classpath: cp,
	}
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
delete.topic.enable=true
num.network.threads=1
num.io.threads=2
`, port, cport, filepath.Join(dir, "data"))
	log4j := fmt.Sprintf(`status = error
appender.file.type = File
appender.file.name = File
appender.file.fileName = %s
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%%d] %%p %%m (%%c)%%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = File
`, filepath.Join(dir, "kafka.log"))
	if err := os.WriteFile(b.props, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "log4j2.properties"), []byte(log4j), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout)
	defer cancel()
	format := exec.CommandContext(ctx, "java", append(b.jvmArgs(), "kafka.tools.StorageTool", "format", "--standalone",
		"-t", clusterID(), "-c", b.props)...)
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("format the own Kafka broker's storage: %v\n%s", err, out)
	}
	b.stopAll = time.AfterFunc(KafkaBrokerMaxLife, func() { _ = b.Kill() })
	t.Cleanup(b.close)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// jvmArgs are java's arguments before the main class: a small heap and a
// quick start.
func (b *KafkaBroker) jvmArgs() []string {
	return []string{"-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.awt.headless=true", "-Dlog4j2.configurationFile=" + filepath.Join(b.dir, "log4j2.properties"),
		"-cp", b.classpath}
}

// Start starts the broker (again) on its storage and ports, and waits until
// it answers metadata requests, or ctx ends.
func (b *KafkaBroker) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errors.New("testenv: the Kafka broker is closed")
	}
	if b.cmd != nil {
		b.mu.Unlock()
		return errors.New("testenv: the Kafka broker is running")
	}
	out, err := os.OpenFile(filepath.Join(b.dir, "kafka.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	cmd := exec.Command("java", append(b.jvmArgs(), "kafka.Kafka", b.props)...)
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: the broker dies with the test process, even when that
	// one is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		_ = out.Close()
		return fmt.Errorf("testenv: start the Kafka broker: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(exited)
	}()
	b.cmd, b.exited, b.frozen = cmd, exited, false
	b.mu.Unlock()

	for {
		if err := b.answers(ctx); err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("testenv: the Kafka broker exited while starting: %s", b.logTail())
		case <-ctx.Done():
			return fmt.Errorf("testenv: the Kafka broker did not answer on %s: %w: %s", b.Addr, ctx.Err(), b.logTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// answers reports nil when the broker answers a metadata request naming
// itself.
func (b *KafkaBroker) answers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	tr := &kafkago.Transport{DialTimeout: time.Second}
	defer tr.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(b.Addr), Transport: tr, Timeout: 3 * time.Second}
	res, err := cl.Metadata(ctx, &kafkago.MetadataRequest{})
	if err != nil {
		return err
	}
	if len(res.Brokers) == 0 {
		return errors.New("no broker in the metadata")
	}
	return nil
}

// Stop stops the broker gracefully (SIGTERM: a controlled shutdown) and
// waits until it has exited, killing it after timeout.
func (b *KafkaBroker) Stop(timeout time.Duration) error {
	return b.stop(syscall.SIGTERM, timeout)
}

// Kill kills the broker (SIGKILL) and waits until it has exited.
func (b *KafkaBroker) Kill() error {
	return b.stop(syscall.SIGKILL, time.Minute)
}

func (b *KafkaBroker) stop(sig syscall.Signal, timeout time.Duration) error {
	b.mu.Lock()
	cmd, exited, frozen := b.cmd, b.exited, b.frozen
	b.cmd, b.frozen = nil, false
	b.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	if frozen {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
	}
	_ = cmd.Process.Kill()
	<-exited
	if sig == syscall.SIGKILL {
		return nil
	}
	return fmt.Errorf("testenv: the Kafka broker did not stop within %s after %s; killed", timeout, sig)
}

// Freeze stops the broker's process (SIGSTOP): it keeps its sockets and
// answers nothing, like a hung broker, until Thaw.
func (b *KafkaBroker) Freeze() error { return b.signal(syscall.SIGSTOP, true) }

// Thaw resumes a frozen broker (SIGCONT).
func (b *KafkaBroker) Thaw() error { return b.signal(syscall.SIGCONT, false) }

func (b *KafkaBroker) signal(sig syscall.Signal, frozen bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return errors.New("testenv: the Kafka broker is not running")
	}
	if err := b.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testenv: signal the Kafka broker: %w", err)
	}
	b.frozen = frozen
	return nil
}

// close kills the broker for good.
func (b *KafkaBroker) close() {
	b.stopAll.Stop()
	_ = b.Kill()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// logTail is the end of the broker's output and log, for errors.
func (b *KafkaBroker) logTail() string {
	var parts []string
	for _, f := range []string{"kafka.out", "kafka.log"} {
		data, _ := os.ReadFile(filepath.Join(b.dir, f))
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		parts = append(parts, f+": "+string(data))
	}
	return strings.Join(parts, "\n")
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// clusterID returns a random KRaft cluster id: base64url of 16 bytes, not
// starting with "-" (which would read as an option).
func clusterID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if !strings.HasPrefix(id, "-") {
			return id
		}
	}
}
