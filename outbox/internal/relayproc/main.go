// Command relayproc runs one outbox relay that sends to Kafka, until SIGTERM
// or SIGINT. The outbox's crash test builds it once and kills it with
// SIGKILL. It reads its configuration from the environment:
//
//	RELAYPROC_DSN      the PostgreSQL database (libpq form)
//	RELAYPROC_BROKERS  Kafka brokers, comma-separated
//	RELAYPROC_BATCH    the relay's batch size
//	RELAYPROC_HOLD     a pause after the broker acknowledged a batch and
//	                   before the relay deletes it (e.g. 100ms), which
//	                   widens the window in which a kill causes duplicates
//
// It logs warnings (a batch not sent) to standard error, one JSON object
// per line, which the test counts.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/outbox"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "relayproc:", err)
		os.Exit(1)
	}
}

func run() error {
	batch, err := strconv.Atoi(os.Getenv("RELAYPROC_BATCH"))
	if err != nil {
		return fmt.Errorf("RELAYPROC_BATCH: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := gorm.Open(postgres.Open(os.Getenv("RELAYPROC_DSN")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	var hold time.Duration
	if v := os.Getenv("RELAYPROC_HOLD"); v != "" {
		if hold, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("RELAYPROC_HOLD: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	r, err := outbox.NewRelay(logpipe.Settings{
		Backend: holding{Backend: kafka.New(kafka.Config{
			Brokers:     strings.Split(os.Getenv("RELAYPROC_BROKERS"), ","),
			SendTimeout: 3 * time.Second,
			DialTimeout: time.Second,
		}), hold: hold},
		DB:     db,
		Logger: log,
	}, outbox.WithBatchSize(batch), outbox.WithPollInterval(50*time.Millisecond))
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// holding wraps a backend whose producers pause after each acknowledged
// batch.
type holding struct {
	backend.Backend
	hold time.Duration
}

func (h holding) NewProducer(ctx context.Context, opts backend.ProducerOptions) (backend.Producer, error) {
	p, err := h.Backend.NewProducer(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &holdingProducer{Producer: p, hold: h.hold}, nil
}

type holdingProducer struct {
	backend.Producer
	hold time.Duration
}

func (p *holdingProducer) SendBatch(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	pos, err := p.Producer.(backend.BatchProducer).SendBatch(ctx, msgs)
	if err == nil {
		time.Sleep(p.hold)
	}
	return pos, err
}
