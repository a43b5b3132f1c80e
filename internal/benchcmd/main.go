// Command benchcmd is the project's bench command (scripts/bench runs it):
// in one run, against the real Kafka broker, PostgreSQL, SQLite and the
// Kinesis emulator, it measures logpipe through its public API (Producer,
// Consumer), django-logpipe 1.6.0 doing the same work
// (scripts/bench_original.py in the interop venv), and Kafka's own
// ProducerPerformance and ConsumerPerformance, and prints medians, spreads
// and same-run ratios.
//
// Every measurement runs in a process of its own, started by this one, so
// that its peak resident memory (getrusage's ru_maxrss, the kernel's VmHWM)
// is that measurement's alone. The Go measurements are the program
// internal/benchcmd/child, which this command builds (go build, so run it
// from the module) once per combination it needs, each linking only what a
// user's program would: Kafka alone (producers), Kafka and PostgreSQL,
// Kafka and SQLite, or everything (Kinesis). The measurements run in
// interleaved rounds (A B C ... A B C ...), so that a change in the
// machine's load touches every figure alike. A measurement that fails is
// reported and the run goes on; interrupted, the command still removes the
// topics, streams and databases it made.
//
//	go build -o /tmp/logpipe-bench ./internal/benchcmd
//	/tmp/logpipe-bench -quick              # small counts, 2 rounds: for development
//	/tmp/logpipe-bench -md BENCHMARKS.md -svg docs/bench.svg
//
// The services come from the environment that scripts/services/*.sh write
// (LOGPIPE_TEST_KAFKA_BROKERS, LOGPIPE_TEST_POSTGRES_DSN,
// LOGPIPE_TEST_DJANGO_PYTHON, LOGPIPE_TEST_KAFKA_CLASSPATH,
// LOGPIPE_TEST_KINESIS_ENDPOINT); a missing one leaves out what needs it.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}

// options are the parent's flags.
type options struct {
	rounds     int
	send       int // records sent one at a time (Go and the original)
	concurrent int // records sent from 64 goroutines
	perf       int // records of SendBatch, ProducerPerformance, read-and-dispatch, ConsumerPerformance
	apply1     int // records applied at 1 per transaction; n per tx of k is min(apply1*k, applyMax)
	applyMax   int
	oneBatches int // records of the topic of one-record batches
	kinesis    int // records of each Kinesis measurement
	only       string
	args       []string // the flags given, but -md and -svg
	profileDir string
	md, svg    string
	djangoProj string
}

// quickDefaults are the counts of -quick.
var quickDefaults = map[string]int{"rounds": 2, "send": 300, "concurrent": 3000, "perf": 20000,
	"apply": 200, "apply-max": 2000, "one-batches": 3000, "kinesis": 100}

func parseFlags() options {
	var o options
	quick := flag.Bool("quick", false, "small counts and 2 rounds, for development")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of every measurement")
	flag.IntVar(&o.send, "send", 2000, "records sent one at a time")
	flag.IntVar(&o.concurrent, "concurrent", 20000, "records sent one at a time from 64 goroutines")
	flag.IntVar(&o.perf, "perf", 200000, "records of SendBatch, ProducerPerformance, read-and-dispatch and ConsumerPerformance")
	flag.IntVar(&o.apply1, "apply", 1000, "records applied at 1 per transaction (k per transaction: k times as many, at most -apply-max)")
	flag.IntVar(&o.applyMax, "apply-max", 20000, "most records applied by one consume-and-apply measurement")
	flag.IntVar(&o.oneBatches, "one-batches", 20000, "records of the topic written one record per batch (consumer memory)")
	flag.IntVar(&o.kinesis, "kinesis", 300, "records of each Kinesis measurement (0: none)")
	flag.StringVar(&o.only, "only", "", "run only the measurements whose name contains one of these comma-separated words")
	flag.StringVar(&o.profileDir, "cpuprofile", "", "write a CPU profile of each Go measurement into this directory")
	flag.StringVar(&o.md, "md", "", "rewrite the generated section of this Markdown file (BENCHMARKS.md)")
	flag.StringVar(&o.svg, "svg", "", "write the plot to this SVG file")
	flag.StringVar(&o.djangoProj, "django-project", "testdata/django", "the Django project of the interop tests")
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "md" || f.Name == "svg" {
			return
		}
		if f.Value.String() == "true" {
			o.args = append(o.args, "-"+f.Name)
		} else {
			o.args = append(o.args, "-"+f.Name+" "+f.Value.String())
		}
	})
	if *quick {
		// Smaller defaults; flags given explicitly still win.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*int{"rounds": &o.rounds, "send": &o.send, "concurrent": &o.concurrent, "perf": &o.perf,
			"apply": &o.apply1, "apply-max": &o.applyMax, "one-batches": &o.oneBatches, "kinesis": &o.kinesis} {
			if !set[name] {
				*v = quickDefaults[name]
			}
		}
	}
	return o
}

// env holds the services found in the environment.
type env struct {
	brokers, pgDSN, python, classpath, kinesis string
}

func getenv() env {
	return env{
		brokers:   strings.TrimSpace(os.Getenv("LOGPIPE_TEST_KAFKA_BROKERS")),
		pgDSN:     strings.TrimSpace(os.Getenv("LOGPIPE_TEST_POSTGRES_DSN")),
		python:    strings.TrimSpace(os.Getenv("LOGPIPE_TEST_DJANGO_PYTHON")),
		classpath: strings.TrimSpace(os.Getenv("LOGPIPE_TEST_KAFKA_CLASSPATH")),
		kinesis:   strings.TrimSpace(os.Getenv("LOGPIPE_TEST_KINESIS_ENDPOINT")),
	}
}

// sample is one measurement of one case.
type sample struct {
	rate       float64 // records per second
	rssMB      float64 // peak resident set of the process, MiB
	startRSSMB float64 // its peak before the measured work (0: not known)
	// p50Ms and p99Ms are commit-to-send latencies (the outbox measures).
	p50Ms, p99Ms float64
}

// benchCase is one measurement, run once per round.
type benchCase struct {
	name  string // unique, shown in the table
	group string
	n     int // records
	bound string
	run   func(ctx context.Context, round int) (sample, error)
}

// runner runs the cases and holds what they need.
type runner struct {
	o       options
	e       env
	tmp     string
	bins    map[string]string // child binaries by variant
	topics  []string
	streams []string
	pgDBs   []string
}

func run() error {
	o := parseFlags()
	e := getenv()
	if e.brokers == "" {
		return errors.New("LOGPIPE_TEST_KAFKA_BROKERS is not set: source .run/kafka.env (scripts/services/kafka.sh start)")
	}
	tmp, err := os.MkdirTemp("", "logpipe-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	if abs, err := filepath.Abs(o.djangoProj); err == nil {
		o.djangoProj = abs
	}
	r := &runner{o: o, e: e, tmp: tmp}
	// Interrupted, the children are killed and the topics, streams and
	// databases made so far are still removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer r.cleanup(context.Background())
	if err := r.buildChildren(ctx); err != nil {
		return err
	}

	m := describeMachine(ctx, e)
	fmt.Printf("== %s\n", m.line())
	fmt.Println("== setup: filling the topics read by the consumers")
	cases, err := r.setup(ctx)
	if err != nil {
		return err
	}
	if o.only != "" {
		var kept []benchCase
		for _, c := range cases {
			for w := range strings.SplitSeq(o.only, ",") {
				if w != "" && strings.Contains(c.name, w) {
					kept = append(kept, c)
					break
				}
			}
		}
		cases = kept
	}
	results := map[string][]sample{}
	var failures []string
	start := time.Now()
	for round := 1; round <= o.rounds; round++ {
		for _, c := range cases {
			s, err := c.run(ctx, round)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				// One failed measurement does not lose the run: it is
				// reported, and its median is of the rounds that worked.
				failures = append(failures, fmt.Sprintf("round %d, %s: %v", round, c.name, firstLine(err)))
				fmt.Fprintf(os.Stderr, "round %d  %s FAILED: %v\n", round, c.name, err)
				continue
			}
			results[c.name] = append(results[c.name], s)
			fmt.Printf("round %d  %-52s %12.0f records/s  %7.1f MiB\n", round, c.name, s.rate, s.rssMB)
		}
	}
	m.finish(time.Since(start))
	rep := report{m: m, o: o, cases: cases, results: results, failures: failures}
	fmt.Println()
	fmt.Print(rep.text())
	if o.md != "" {
		if err := rep.writeMarkdown(o.md); err != nil {
			return err
		}
	}
	if o.svg != "" {
		if err := os.WriteFile(o.svg, rep.svg(), 0o644); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d measurements failed", len(failures))
	}
	return nil
}

// name returns a new name for a topic, stream or database.
func name(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// childVariants are the child binaries: the build tags of each.
var childVariants = map[string]string{
	"all":            "",
	"kafka":          "nokinesis,nosqlite,nopostgres",
	"kafka-postgres": "nokinesis,nosqlite",
	"kafka-sqlite":   "nokinesis,nopostgres",
}

// buildChildren builds the child program once per variant.
func (r *runner) buildChildren(ctx context.Context) error {
	r.bins = map[string]string{}
	for v, tags := range childVariants {
		bin := filepath.Join(r.tmp, "child-"+v)
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", bin, "github.com/logpipe-go/logpipe/internal/benchcmd/child")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build the child (%s): %w\n%s", v, err, out)
		}
		r.bins[v] = bin
	}
	return nil
}

// child runs the child program variant as one measurement and returns its
// sample. A round of 0 is setup: no profile.
func (r *runner) child(ctx context.Context, variant, slug string, round int, args ...string) (sample, error) {
	args = append([]string{"-brokers", r.e.brokers, "-endpoint", r.e.kinesis}, args...)
	if r.o.profileDir != "" && round > 0 {
		args = append(args, "-cpuprofile", filepath.Join(r.o.profileDir, fmt.Sprintf("%s-r%d.pprof", slug, round)))
	}
	return r.exec(ctx, exec.CommandContext(ctx, r.bins[variant], args...), parseChildJSON)
}

// childResult is what a child prints on its last line of output: the
// records it handled and the seconds the measured part took.
type childResult struct {
	Records    int     `json:"records"`
	Seconds    float64 `json:"seconds"`
	StartRSSMB float64 `json:"start_rss_mb"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
}

// exec runs cmd, parses its standard output with parse and adds the peak
// RSS of the process.
func (r *runner) exec(ctx context.Context, cmd *exec.Cmd, parse func([]byte) (sample, error)) (sample, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s%s", strings.Join(cmd.Args[:min(4, len(cmd.Args))], " "), err, tail(stdout.String()), tail(stderr.String()))
	}
	s, err := parse(stdout.Bytes())
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s%s", cmd.Args[0], err, tail(stdout.String()), tail(stderr.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rssMB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return s, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func tail(s string) string {
	if len(s) > 3000 {
		s = "..." + s[len(s)-3000:]
	}
	return s
}

// parseChildJSON reads the last line of a child's output (Go's or the
// original's): {"records": n, "seconds": s}.
func parseChildJSON(out []byte) (sample, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res childResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return sample{}, err
	}
	if res.Seconds <= 0 || res.Records <= 0 {
		return sample{}, fmt.Errorf("no measure: %+v", res)
	}
	return sample{rate: float64(res.Records) / res.Seconds, startRSSMB: res.StartRSSMB, p50Ms: res.P50Ms, p99Ms: res.P99Ms}, nil
}

var (
	perfRE = regexp.MustCompile(`records sent, ([\d.]+) records/sec`)
)

// parseProducerPerformance reads the summary line of ProducerPerformance.
func parseProducerPerformance(out []byte) (sample, error) {
	m := perfRE.FindAllSubmatch(out, -1)
	if m == nil {
		return sample{}, errors.New("no summary line")
	}
	v, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
	return sample{rate: v}, err
}

// parseConsumerPerformance reads ConsumerPerformance's CSV line: its
// fetch.nMsg.sec, the rate once the consumer has joined its group.
func parseConsumerPerformance(out []byte) (sample, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var header []string
	for _, l := range lines {
		f := strings.Split(l, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if len(f) > 3 && f[0] == "start.time" {
			header = f
			continue
		}
		if header != nil && len(f) == len(header) {
			for i, h := range header {
				if h == "fetch.nMsg.sec" {
					v, err := strconv.ParseFloat(f[i], 64)
					return sample{rate: v}, err
				}
			}
		}
	}
	return sample{}, errors.New("no CSV line")
}
