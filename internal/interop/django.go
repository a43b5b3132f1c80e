package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logpipe-go/logpipe/internal/testenv"
)

// EnvDjangoProject names the Django test project's folder; scripts/services/
// django.sh sets it. When unset, the project is found from this package's
// folder (testdata/django at the repository root).
const EnvDjangoProject = "LOGPIPE_TEST_DJANGO_PROJECT"

// commandTimeout bounds one management command.
const commandTimeout = 2 * time.Minute

// DjangoConfig selects what the Django project connects to.
type DjangoConfig struct {
	// Backend is "kafka" or "kinesis".
	Backend string
	// DSN is the PostgreSQL database, as libpq takes it.
	DSN string
	// Brokers are the Kafka bootstrap servers.
	Brokers []string
	// KinesisEndpoint is the emulator's URL.
	KinesisEndpoint string
	// Region is the Kinesis region (default us-east-1).
	Region string
	// KafkaGroup, when set, makes the original keep Kafka offsets as this
	// consumer group's committed offsets (its KafkaOffsetStore) instead of
	// in logpipe_kafkaoffset (its ModelOffsetStore).
	KafkaGroup string
}

// Django runs the test project's management commands with the venv's python.
type Django struct {
	python  string
	project string
	env     []string
}

// NewDjango returns a runner for the Django project, skipping the test (or
// failing it, when services are required) if the venv is not there.
func NewDjango(t testing.TB, cfg DjangoConfig) *Django {
	t.Helper()
	python := testenv.Service(t, testenv.EnvDjango, "a Python venv with django-logpipe (scripts/services/django.sh)")
	project := os.Getenv(EnvDjangoProject)
	if project == "" {
		abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "django"))
		if err != nil {
			t.Fatalf("find the Django project: %v", err)
		}
		project = abs
	}
	offsets := "database"
	if cfg.KafkaGroup != "" {
		offsets = "kafka"
	}
	env := append(os.Environ(),
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"DJANGO_SETTINGS_MODULE=lptest.settings",
		"LOGPIPE_DJANGO_BACKEND="+cfg.Backend,
		"LOGPIPE_DJANGO_DATABASE="+cfg.DSN,
		"LOGPIPE_DJANGO_KAFKA_BROKERS="+strings.Join(cfg.Brokers, ","),
		"LOGPIPE_DJANGO_KINESIS_ENDPOINT="+cfg.KinesisEndpoint,
		"LOGPIPE_DJANGO_KINESIS_REGION="+cfg.Region,
		"LOGPIPE_DJANGO_KAFKA_GROUP="+cfg.KafkaGroup,
		"LOGPIPE_DJANGO_OFFSETS="+offsets,
	)
	return &Django{python: python, project: project, env: env}
}

// Run runs "manage.py args..." and returns its standard output. The error
// carries the command's standard error.
func (d *Django) Run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.python, append([]string{"manage.py"}, args...)...)
	cmd.Dir = d.project
	cmd.Env = d.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("manage.py %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// MustRun is Run, failing the test on error.
func (d *Django) MustRun(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := d.Run(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Migrate creates the original's offsets tables and people_person.
func (d *Django) Migrate(t testing.TB) {
	t.Helper()
	d.MustRun(t, "migrate", "-v0", "--no-input")
}

// CreateTopic creates a Kafka topic with that many partitions, or a Kinesis
// stream with that many shards, and waits until it is usable.
func (d *Django) CreateTopic(t testing.TB, topic string, partitions int) {
	t.Helper()
	d.MustRun(t, "create_topic", "--topic", topic, "--partitions", strconv.Itoa(partitions))
}

// ProduceArgs are the options of the produce command.
type ProduceArgs struct {
	Topic      string
	Count      int
	Start      int
	Seed       int
	Version    int    // 1 or 2; default 1
	Mix        string // e.g. "1,2,other:1"; overrides Version
	Format     string // json (default) or msgpack
	ProducerID string
}

// Produced is one record the original's producer sent.
type Produced struct {
	Index   int            `json:"index"`
	Type    string         `json:"type"`
	Version int            `json:"version"`
	Key     string         `json:"key"`
	Topic   string         `json:"topic"`
	Message map[string]any `json:"message"`
	// Partition is a Kafka partition number or a Kinesis shard id.
	Partition json.RawMessage `json:"partition"`
	// Offset is a Kafka offset or a Kinesis sequence number.
	Offset json.RawMessage `json:"offset"`
}

// KafkaPartition returns the Kafka partition the record went to.
func (p Produced) KafkaPartition() (int32, error) {
	n, err := strconv.ParseInt(string(p.Partition), 10, 32)
	return int32(n), err
}

// Shard returns the Kinesis shard id the record went to.
func (p Produced) Shard() (string, error) {
	var s string
	err := json.Unmarshal(p.Partition, &s)
	return s, err
}

// Produce sends people with the original's Producer.
func (d *Django) Produce(t testing.TB, a ProduceArgs) []Produced {
	t.Helper()
	args := []string{"produce", "--topic", a.Topic, "--count", strconv.Itoa(a.Count),
		"--start", strconv.Itoa(a.Start), "--seed", strconv.Itoa(a.Seed)}
	if a.Version != 0 {
		args = append(args, "--version", strconv.Itoa(a.Version))
	}
	if a.Mix != "" {
		args = append(args, "--mix", a.Mix)
	}
	if a.Format != "" {
		args = append(args, "--format", a.Format)
	}
	if a.ProducerID != "" {
		args = append(args, "--producer-id", a.ProducerID)
	}
	out := d.MustRun(t, args...)
	recs := decodeLines[Produced](t, out)
	if len(recs) != a.Count {
		t.Fatalf("produce printed %d records, want %d:\n%s", len(recs), a.Count, out)
	}
	return recs
}

// ConsumeArgs are the options of the consume command.
type ConsumeArgs struct {
	Topic     string
	TimeoutMS int // idle timeout (Kafka); default 3000
	Limit     int // stop after this many applied records; 0: no limit
	Ignore    []string
}

// Applied is one record the original's consumer applied.
type Applied struct {
	Type    string    `json:"type"`
	Version int       `json:"version"`
	Person  PersonRow `json:"person"`
}

// Consume runs the original's Consumer with PersonSerializerV1 and V2
// registered, and returns what it applied, in order.
func (d *Django) Consume(t testing.TB, a ConsumeArgs) []Applied {
	t.Helper()
	if a.TimeoutMS == 0 {
		a.TimeoutMS = 3000
	}
	args := []string{"consume", "--topic", a.Topic, "--timeout-ms", strconv.Itoa(a.TimeoutMS), "--limit", strconv.Itoa(a.Limit)}
	for _, ig := range a.Ignore {
		args = append(args, "--ignore", ig)
	}
	out := d.MustRun(t, args...)
	type line struct {
		Event   string    `json:"event"`
		Count   int       `json:"applied"`
		Type    string    `json:"type"`
		Version int       `json:"version"`
		Person  PersonRow `json:"person"`
	}
	var applied []Applied
	done := false
	for _, l := range decodeLines[line](t, out) {
		switch l.Event {
		case "applied":
			applied = append(applied, Applied{Type: l.Type, Version: l.Version, Person: l.Person})
		case "done":
			done = true
			if l.Count != len(applied) {
				t.Fatalf("consume reported %d applied, printed %d", l.Count, len(applied))
			}
		}
	}
	if !done {
		t.Fatalf("consume did not finish:\n%s", out)
	}
	return applied
}

// PersonRow is a row of people_person as the Django project prints it.
type PersonRow struct {
	ID        int64   `json:"id"`
	UUID      string  `json:"uuid"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Email     *string `json:"email"`
}

// People returns every row of people_person, read by Django, in id order.
func (d *Django) People(t testing.TB) []PersonRow {
	t.Helper()
	var rows []PersonRow
	if err := json.Unmarshal(d.MustRun(t, "dump_people"), &rows); err != nil {
		t.Fatalf("decode dump_people: %v", err)
	}
	return rows
}

func decodeLines[T any](t testing.TB, out []byte) []T {
	t.Helper()
	var res []T
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		res = append(res, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read command output: %v", err)
	}
	return res
}
