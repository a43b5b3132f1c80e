// Command child is one measurement of the bench command
// (internal/benchcmd), in a process of its own so that its peak RSS is the
// measurement's alone. It links only what a user's program would: the
// Kafka backend, and the Kinesis backend, SQLite and PostgreSQL unless
// built with the tags nokinesis, nosqlite, nopostgres; the bench command
// builds one binary per combination it runs. It prints one JSON line:
// {"records": n, "seconds": s}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/benchcmd/fixture"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// childResult is what a child process prints on its last line of output:
// the records it handled and the seconds the measured part took.
type childResult struct {
	Records int     `json:"records"`
	Seconds float64 `json:"seconds"`
	// StartRSSMB is the process's peak RSS before the measured work: the
	// runtime and the linked code.
	StartRSSMB float64 `json:"start_rss_mb"`
	// P50Ms and P99Ms are commit-to-send latencies (the outbox measures).
	P50Ms float64 `json:"p50_ms,omitempty"`
	P99Ms float64 `json:"p99_ms,omitempty"`
}

// childArgs are the flags of one measurement in a child process.
type childArgs struct {
	kind     string // send-one, send-concurrent, send-batch, apply, dispatch, fill
	backend  string // kafka or kinesis
	brokers  string
	endpoint string
	topic    string
	n        int
	batch    int
	workers  int
	tx       int
	db       string // sqlite:PATH or a PostgreSQL DSN
	profile  string
	mode     string // outbox: outbox or plain
}

// runChild parses a child's flags, runs its measurement and prints the
// result as one JSON line.
func main() {
	if err := runChild(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd child:", err)
		os.Exit(1)
	}
}

func runChild(args []string) error {
	var a childArgs
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	fs.StringVar(&a.kind, "kind", "", "measurement")
	fs.StringVar(&a.backend, "backend", "kafka", "kafka or kinesis")
	fs.StringVar(&a.brokers, "brokers", "", "Kafka brokers")
	fs.StringVar(&a.endpoint, "endpoint", "", "Kinesis endpoint")
	fs.StringVar(&a.topic, "topic", "", "topic or stream")
	fs.IntVar(&a.n, "n", 1000, "records")
	fs.IntVar(&a.batch, "batch", 1000, "records per SendBatch call")
	fs.IntVar(&a.workers, "workers", 64, "sending goroutines")
	fs.IntVar(&a.tx, "tx", 1, "records per transaction")
	fs.StringVar(&a.db, "db", "", "sqlite:PATH or a PostgreSQL DSN")
	fs.StringVar(&a.profile, "cpuprofile", "", "write a CPU profile of the measured part here")
	fs.StringVar(&a.mode, "mode", "outbox", "for -kind outbox: outbox (Send in the transaction, relayed) or plain (Send after the commit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	startRSS := peakRSS()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var (
		res childResult
		err error
	)
	switch a.kind {
	case "send-one", "send-concurrent", "send-batch", "fill":
		res, err = childSend(ctx, a)
	case "apply", "dispatch":
		res, err = childConsume(ctx, a)
	case "outbox":
		res, err = childOutbox(ctx, a)
	default:
		return fmt.Errorf("unknown -kind %q", a.kind)
	}
	if err != nil {
		return err
	}
	res.StartRSSMB = startRSS
	return json.NewEncoder(os.Stdout).Encode(res)
}

// settings returns the Settings of a child: the backend and, when db is
// set, the database.
func (a childArgs) settings(db *gorm.DB) logpipe.Settings {
	s := logpipe.Settings{Backend: kafka.New(kafka.Config{Brokers: strings.Split(a.brokers, ",")}), DB: db, ProducerID: "bench"}
	if a.backend == "kinesis" {
		if newKinesis == nil {
			panic("built without Kinesis (tag nokinesis)")
		}
		s.Backend = newKinesis(a.endpoint)
	}
	return s
}

// startProfile starts the CPU profile when asked for one; the returned
// function stops it.
func (a childArgs) startProfile() (func(), error) {
	if a.profile == "" {
		return func() {}, nil
	}
	f, err := os.Create(a.profile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func childSend(ctx context.Context, a childArgs) (childResult, error) {
	p, err := logpipe.NewProducer(ctx, a.settings(nil), a.topic)
	if err != nil {
		return childResult{}, err
	}
	defer func() { _ = p.Close() }()
	// The messages are made before the measure, at most messagePool of
	// them, sent again in turn past that: a send of millions of records
	// holds no more of them alive than a service would.
	msgs := make([]logpipe.Message, min(a.n, messagePool))
	for i := range msgs {
		msgs[i] = fixture.Person(i)
	}
	if a.kind != "fill" {
		// One record first, outside the measure: the producer's first
		// request looks the topic up.
		if _, err := p.Send(ctx, fixture.Person(a.n)); err != nil {
			return childResult{}, fmt.Errorf("first send: %w", err)
		}
	}
	stop, err := a.startProfile()
	if err != nil {
		return childResult{}, err
	}
	start := time.Now()
	switch a.kind {
	case "send-one":
		for i := range a.n {
			if _, err := p.Send(ctx, msgs[i%len(msgs)]); err != nil {
				return childResult{}, fmt.Errorf("send %d: %w", i, err)
			}
		}
	case "send-concurrent":
		var next atomic.Int64
		errs := make([]error, a.workers)
		var wg sync.WaitGroup
		for w := range a.workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= a.n {
						return
					}
					if _, err := p.Send(ctx, msgs[i%len(msgs)]); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return childResult{}, err
		}
	default: // send-batch, fill
		for from := 0; from < a.n; {
			var batch []logpipe.Message
			if a.kind == "fill" {
				// The consumers' topics: every record its own person.
				batch = make([]logpipe.Message, min(a.batch, a.n-from))
				for i := range batch {
					batch[i] = fixture.Person(from + i)
				}
			} else {
				start := from % len(msgs)
				batch = msgs[start:min(start+a.batch, len(msgs), start+a.n-from)]
			}
			if _, err := p.SendBatch(ctx, batch); err != nil {
				return childResult{}, fmt.Errorf("SendBatch at %d: %w", from, err)
			}
			from += len(batch)
		}
	}
	elapsed := time.Since(start)
	stop()
	return childResult{Records: a.n, Seconds: elapsed.Seconds()}, nil
}

// messagePool is the most messages a send measurement makes before it
// starts (a multiple of every SendBatch size measured).
const messagePool = 20000

// clock records when the first record was saved, so that a consumer's
// rate is measured from its first record to its last, for the original's
// consumer (which spends seconds joining its group first) and this one
// alike.
var clock struct {
	once  sync.Once
	first time.Time
}

func started() { clock.once.Do(func() { clock.first = time.Now() }) }

// timedPerson is people.PersonV1, noting its first Save.
type timedPerson struct{ people.PersonV1 }

// Save notes the time of the first save and saves the person.
func (p *timedPerson) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	started()
	return p.PersonV1.Save(ctx, tx, instance)
}

// noopPerson is a person message whose save does nothing: what is left
// is reading, parsing, decoding, validating and committing offsets.
type noopPerson struct{ people.PersonV1 }

// LookupInstance finds nothing.
func (*noopPerson) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }

// Save does nothing but note the time of the first save.
func (*noopPerson) Save(context.Context, *gorm.DB, any) error {
	started()
	return nil
}

// openDB opens the child's database: sqlite:PATH (WAL, synchronous=FULL)
// or a PostgreSQL DSN.
func openDB(spec string) (*gorm.DB, error) {
	cfg := &gorm.Config{Logger: logger.Discard}
	if path, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		if openSQLite == nil {
			return nil, errors.New("built without SQLite (tag nosqlite)")
		}
		return gorm.Open(openSQLite(path), cfg)
	}
	if openPostgres == nil {
		return nil, errors.New("built without PostgreSQL (tag nopostgres)")
	}
	return gorm.Open(openPostgres(spec), cfg)
}

// The backends and databases linked in (set by the files of each build
// tag).
var (
	newKinesis   func(endpoint string) backend.Backend
	openSQLite   func(path string) gorm.Dialector
	openPostgres func(dsn string) gorm.Dialector
)

func childConsume(ctx context.Context, a childArgs) (childResult, error) {
	db, err := openDB(a.db)
	if err != nil {
		return childResult{}, err
	}
	if err := offsetstore.Migrate(ctx, db); err != nil {
		return childResult{}, err
	}
	if err := db.AutoMigrate(&people.Person{}); err != nil {
		return childResult{}, err
	}
	c, err := logpipe.NewConsumer(a.settings(db), a.topic, logpipe.WithTransactionSize(a.tx), logpipe.WithLimit(a.n), logpipe.WithThrowErrors())
	if err != nil {
		return childResult{}, err
	}
	var s logpipe.Serializer = &timedPerson{}
	if a.kind == "dispatch" {
		s = &noopPerson{}
	}
	if err := c.Register(s); err != nil {
		return childResult{}, err
	}
	stop, err := a.startProfile()
	if err != nil {
		return childResult{}, err
	}
	if err := c.Run(ctx); err != nil {
		return childResult{}, err
	}
	end := time.Now()
	stop()
	if a.kind == "apply" {
		var rows int64
		if err := db.Model(&people.Person{}).Count(&rows).Error; err != nil {
			return childResult{}, err
		}
		if want := int64((a.n + 1) / 2); rows < want*9/10 {
			return childResult{}, fmt.Errorf("%d people rows after %d records, want about %d", rows, a.n, want)
		}
	}
	// From the first save to the end: n-1 records were applied in that time.
	return childResult{Records: a.n - 1, Seconds: end.Sub(clock.first).Seconds()}, nil
}

// peakRSS returns the process's peak resident set (VmHWM) in MiB, or 0
// when /proc is not there.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
