// Command service is a logpipe service as it runs in production: a consumer
// applying "person" records to its database and a producer sending them,
// with Prometheus metrics on /metrics, a health check on /healthz that fails
// when the consumer stops or falls behind (Consumer.Lag), and a clean stop
// on SIGTERM or Ctrl-C: the HTTP server drains, the consumer finishes the
// record in hand (its transaction commits or rolls back, never half), the
// producer flushes.
//
//	go run ./examples/service                                  # in-memory broker, SQLite
//	go run ./examples/service -brokers 127.0.0.1:19092 -topic people   # Apache Kafka
//	curl localhost:8080/metrics; curl localhost:8080/healthz
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/libtnb/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/examples/kafka/person"
	"github.com/logpipe-go/logpipe/offsetstore"
	"github.com/logpipe-go/logpipe/plugin/logpipeprom"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], nil); err != nil {
		log.Fatal(err)
	}
}

// config is the command line.
type config struct {
	addr, brokers, topic, db string
	every                    time.Duration
	maxLag                   int64
}

// run runs the service until ctx ends; it reports the HTTP address on
// ready once it listens (for tests).
func run(ctx context.Context, args []string, ready chan<- string) error {
	var cfg config
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "HTTP address for /metrics and /healthz")
	fs.StringVar(&cfg.brokers, "brokers", "", "Kafka brokers, host:port,...; empty: an in-memory broker")
	fs.StringVar(&cfg.topic, "topic", "people", "topic to produce to and consume (it must exist on Kafka)")
	fs.StringVar(&cfg.db, "db", "service.db", "SQLite database file")
	fs.DurationVar(&cfg.every, "every", 500*time.Millisecond, "how often the producer sends a person")
	fs.Int64Var(&cfg.maxLag, "max-lag", 1000, "records behind on a partition above which /healthz fails")
	if err := fs.Parse(args); err != nil {
		return err
	}

	db, err := gorm.Open(sqlite.Open(cfg.db+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer func() { _ = sqlDB.Close() }()
	}
	if err := offsetstore.Migrate(ctx, db); err != nil {
		return err
	}
	if err := db.AutoMigrate(&person.Person{}); err != nil {
		return err
	}

	// Metrics: logpipe's hook, the Go runtime and the process, on one
	// registry.
	metrics := logpipeprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var be backend.Backend
	if cfg.brokers != "" {
		be = kafka.New(kafka.Config{Brokers: strings.Split(cfg.brokers, ",")})
	} else {
		broker := memory.NewBroker()
		if err := broker.CreateTopic(cfg.topic, 3); err != nil {
			return err
		}
		be = broker
	}
	settings := logpipe.Settings{Backend: be, DB: db, ProducerID: "example-service", Hooks: []logpipe.Hook{metrics}}

	producer, err := logpipe.NewProducer(ctx, settings, cfg.topic)
	if err != nil {
		return err
	}
	defer func() { _ = producer.Close() }() // after the producer loop stopped
	consumer, err := logpipe.NewConsumer(settings, cfg.topic)
	if err != nil {
		return err
	}
	if err := consumer.Register(&person.V1{}, &person.V2{}); err != nil {
		return err
	}

	var consuming atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		status, body := health(consuming.Load(), consumer.Lag(), cfg.maxLag)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if ready != nil {
		ready <- ln.Addr().String()
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { // the HTTP server, drained when the service stops
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-gctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error { // the consumer: Run returns nil when ctx ends
		consuming.Store(true)
		defer consuming.Store(false)
		if err := consumer.Run(gctx); err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		return nil
	})
	g.Go(func() error { // the producer
		t := time.NewTicker(cfg.every)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
			msg := &person.V1{UUID: uuid.New(), FirstName: "Person", LastName: fmt.Sprint(i)}
			if _, err := producer.Send(gctx, msg); err != nil && gctx.Err() == nil {
				slog.Warn("send failed", "error", err) // counted in logpipe_send_errors_total
			}
		}
	})
	err = g.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// health is /healthz: 200 while the consumer runs and no partition is more
// than maxLag records behind (no shard more than a minute on Kinesis), 503
// otherwise, with the lag of every partition in the body.
func health(consuming bool, lag []logpipe.PartitionLag, maxLag int64) (int, map[string]any) {
	body := map[string]any{"consuming": consuming, "lag": lag}
	ok := consuming
	for _, l := range lag {
		if l.Records > maxLag || l.Behind > time.Minute {
			ok = false
		}
	}
	body["ok"] = ok
	if !ok {
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, body
}
