// Package logpipe moves typed, versioned messages between services through
// Apache Kafka or AWS Kinesis. It is a Go port of django-logpipe, wire- and
// database-compatible with it: a Go service and a Django app can share one
// topic and one offsets table.
//
// A Message names its type, version and key field; a Producer renders and
// sends messages to a topic. A Serializer is a Message that can also be
// applied: a Consumer reads a topic, decodes each record into the serializer
// registered for its type and version, and calls LookupInstance and Save
// inside the database transaction that also commits the record's offset, so
// that after a crash each record has been applied exactly once or not at
// all.
//
// Settings holds the backend, built by the backend's own package
// (kafka.New, kinesis.New, memory.NewBroker), where offsets are kept (the
// database, or Kafka's consumer groups), the format and the producer id.
// This package imports no backend, as database/sql imports no driver: a
// program links only the backends it imports.
package logpipe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/format"
)

// Position says where a record is or went: Kafka topic, partition and
// offset, or Kinesis stream, shard and sequence number.
type Position = backend.Position

// Header is a record header (Kafka only; Kinesis has none).
type Header = backend.Header

// OffsetStoreKind selects where consumers keep their positions, like the
// original's OFFSET_BACKEND.
type OffsetStoreKind string

// The offset stores.
const (
	// OffsetsInDatabase keeps positions in Settings.DB, in the original's
	// logpipe_kafkaoffset and logpipe_kinesisoffset tables, committed in
	// the same transaction as Save: exactly-once application. The default.
	OffsetsInDatabase OffsetStoreKind = "database"
	// OffsetsInBroker keeps positions in the broker (Kafka's consumer
	// group, kafka.Config.GroupID), committed after Save's transaction:
	// at-least-once application, for services without a database. Only
	// backends implementing backend.BrokerOffsets (Kafka) support it.
	OffsetsInBroker OffsetStoreKind = "broker"
)

// Settings configures producers and consumers. The zero value is not
// usable: set Backend and, for consumers with the default offset store, DB.
// Settings are validated when a Producer or Consumer is created; every
// problem is reported at once.
type Settings struct {
	// Backend is the transport, built by its package: kafka.New(cfg),
	// kinesis.New(cfg) or memory.NewBroker(), like the original's
	// PRODUCER_BACKEND and CONSUMER_BACKEND. Required.
	Backend backend.Backend
	// Offsets selects where consumers keep positions. Default
	// OffsetsInDatabase.
	Offsets OffsetStoreKind
	// DB is the application's database. Consumers run LookupInstance and
	// Save in a transaction on it and, with OffsetsInDatabase, commit
	// offsets in that transaction. Required for consumers with
	// OffsetsInDatabase; create the tables with offsetstore.Migrate.
	DB *gorm.DB
	// Format is the format producers write: "json" (default) or
	// "msgpack". Consumers read every format whatever this says.
	Format string
	// ProducerID, when set, is sent as the envelope's "producer" key.
	ProducerID string
	// MinMessageLag holds each record until it is at least this old (by
	// its timestamp) before applying it. Default 0.
	MinMessageLag time.Duration
	// Logger receives everything logpipe and the backend log: skipped
	// records and retries (warnings), and debug detail when its handler
	// enables debug. Default slog.Default(). Normal operation logs nothing
	// at info level or above.
	Logger *slog.Logger
	// Hooks are called as records are sent, fetched, applied, skipped and
	// committed: metrics and tracing (see Hook, and the logpipeprom and
	// logpipeotel packages). Default none, which costs nothing.
	Hooks []Hook
}

// withDefaults returns s with defaults filled in.
func (s Settings) withDefaults() Settings {
	s.Offsets = cmp.Or(s.Offsets, OffsetsInDatabase)
	s.Format = cmp.Or(s.Format, format.Default)
	s.Logger = cmp.Or(s.Logger, slog.Default())
	return s
}

// validate reports every problem with s, for a consumer when consumer is
// true.
func (s Settings) validate(consumer bool) error {
	var errs []error
	if s.Backend == nil {
		errs = append(errs, errors.New("Settings.Backend is nil: set it to kafka.New(...), kinesis.New(...) or memory.NewBroker()"))
	} else if v, ok := s.Backend.(backend.Validator); ok {
		if err := v.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Settings.Backend (%s): %w", s.Backend.Name(), err))
		}
	}
	if _, err := format.Lookup(s.Format); err != nil {
		errs = append(errs, fmt.Errorf("Settings.Format: %w", err))
	}
	errs = append(errs, validateHooks(s.Hooks)...)
	if s.MinMessageLag < 0 {
		errs = append(errs, fmt.Errorf("Settings.MinMessageLag is negative (%s)", s.MinMessageLag))
	}
	if consumer {
		switch s.Offsets {
		case OffsetsInDatabase:
			if s.DB == nil {
				errs = append(errs, errors.New("Settings.DB is nil: consumers keep offsets in the database (OffsetsInDatabase); set DB, or Offsets: OffsetsInBroker with Kafka"))
			}
		case OffsetsInBroker:
			if s.Backend == nil {
				break
			}
			if bo, ok := s.Backend.(backend.BrokerOffsets); !ok {
				errs = append(errs, fmt.Errorf("Settings.Offsets is OffsetsInBroker, which the %s backend does not support (%w): keep offsets in the database", s.Backend.Name(), backend.ErrUnsupported))
			} else if err := bo.BrokerOffsets(); err != nil {
				errs = append(errs, fmt.Errorf("Settings.Offsets is OffsetsInBroker: %w", err))
			}
		default:
			errs = append(errs, fmt.Errorf("Settings.Offsets %q is unknown: use OffsetsInDatabase or OffsetsInBroker", s.Offsets))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("logpipe: invalid settings:\n%w", err)
	}
	return nil
}

// openProducer opens the backend producer of s. s is validated.
func openProducer(ctx context.Context, s Settings) (backend.Producer, error) {
	p, err := s.Backend.NewProducer(ctx, backend.ProducerOptions{Logger: s.Logger, OnRetry: onRetry(s.Hooks)})
	if err == nil && p == nil {
		err = errors.New("the backend returned no producer")
	}
	if err != nil {
		return nil, fmt.Errorf("logpipe: open %s producer: %w", s.Backend.Name(), err)
	}
	return p, nil
}

// openConsumer opens the backend consumer of topic that s selects, with
// its offset store. s is validated.
func openConsumer(ctx context.Context, s Settings, topic, name string) (backend.Consumer, error) {
	c, err := s.Backend.NewConsumer(ctx, consumerOptions(s, topic, name))
	if err == nil && c == nil {
		err = errors.New("the backend returned no consumer")
	}
	return c, err
}

// consumerOptions are the backend options of the consumer of topic named
// name that s selects.
func consumerOptions(s Settings, topic, name string) backend.ConsumerOptions {
	log := s.Logger.With("topic", topic)
	if name != "" {
		log = log.With("consumer", name)
	}
	opts := backend.ConsumerOptions{Topic: topic, Name: name, Logger: log, OnAssign: onAssign(s.Hooks)}
	if s.Offsets == OffsetsInBroker {
		opts.BrokerOffsets = true
	} else {
		opts.DB = s.DB
	}
	return opts
}
