// Package logpipe moves typed, versioned messages between services through
// Apache Kafka or AWS Kinesis. It is a Go port of django-logpipe, wire- and
// database-compatible with it: a Go service and a Django app can share one
// topic and one offsets table.
//
// A Serializer is a message struct that names its type, version and key
// field. A Producer sends serializers to a topic; a Consumer reads a topic,
// decodes each record into the serializer registered for its type and
// version, and calls LookupInstance and Save inside the database transaction
// that also commits the record's offset, so that after a crash each record
// has been applied exactly once or not at all.
//
// Settings selects the backend (the in-memory broker, Kafka or Kinesis),
// where offsets are kept (the database, or Kafka's consumer groups), the
// format and the producer id.
package logpipe

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/format"
)

// Position says where a record is or went: Kafka topic, partition and
// offset, or Kinesis stream, shard and sequence number.
type Position = backend.Position

// BackendKind selects the transport, like the original's PRODUCER_BACKEND
// and CONSUMER_BACKEND settings.
type BackendKind string

// The backends.
const (
	// BackendMemory is the in-process broker in Settings.Memory, for
	// tests and the quickstart (the original's dummy backend).
	BackendMemory BackendKind = "memory"
	// BackendKafka is Apache Kafka, configured by Settings.Kafka.
	BackendKafka BackendKind = "kafka"
	// BackendKinesis is AWS Kinesis Data Streams, configured by
	// Settings.Kinesis.
	BackendKinesis BackendKind = "kinesis"
)

// OffsetStoreKind selects where consumers keep their positions, like the
// original's OFFSET_BACKEND.
type OffsetStoreKind string

// The offset stores.
const (
	// OffsetsInDatabase keeps positions in Settings.DB, in the original's
	// logpipe_kafkaoffset and logpipe_kinesisoffset tables, committed in
	// the same transaction as Save: exactly-once application. The default.
	OffsetsInDatabase OffsetStoreKind = "database"
	// OffsetsInBroker keeps positions in Kafka's consumer group
	// (Settings.Kafka.GroupID), committed after Save's transaction:
	// at-least-once application, for services without a database. Kafka
	// only.
	OffsetsInBroker OffsetStoreKind = "broker"
)

// Settings configures producers and consumers. The zero value is not
// usable: set Backend and, for consumers with the default offset store, DB.
// Settings are validated when a Producer or Consumer is created; every
// problem is reported at once.
type Settings struct {
	// Backend selects the transport. Required.
	Backend BackendKind
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
	// Memory is the in-process broker, for BackendMemory.
	Memory *memory.Broker
	// Kafka configures BackendKafka.
	Kafka kafka.Config
	// Kinesis configures BackendKinesis.
	Kinesis kinesis.Config
	// Logger receives skipped-record warnings and debug detail, and the
	// backends' own logs. Default: skipped records go to slog.Default();
	// backends log nothing.
	Logger *slog.Logger
}

// withDefaults returns s with defaults filled in.
func (s Settings) withDefaults() Settings {
	s.Offsets = cmp.Or(s.Offsets, OffsetsInDatabase)
	s.Format = cmp.Or(s.Format, format.Default)
	return s
}

// validate reports every problem with s, for a consumer when consumer is
// true.
func (s Settings) validate(consumer bool) error {
	var errs []error
	switch s.Backend {
	case BackendMemory:
		if s.Memory == nil {
			errs = append(errs, errors.New("Settings.Memory is nil: set it to memory.NewBroker() for BackendMemory"))
		}
	case BackendKafka:
		if err := s.Kafka.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Settings.Kafka: %w", err))
		}
	case BackendKinesis:
		if err := s.Kinesis.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Settings.Kinesis: %w", err))
		}
	case "":
		errs = append(errs, errors.New("Settings.Backend is empty: set BackendMemory, BackendKafka or BackendKinesis"))
	default:
		errs = append(errs, fmt.Errorf("Settings.Backend %q is unknown: use BackendMemory, BackendKafka or BackendKinesis", s.Backend))
	}
	if _, err := format.Lookup(s.Format); err != nil {
		errs = append(errs, fmt.Errorf("Settings.Format: %w", err))
	}
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
			if s.Backend != BackendKafka {
				errs = append(errs, fmt.Errorf("Settings.Offsets is OffsetsInBroker, which only BackendKafka supports (Backend is %q)", s.Backend))
			} else if s.Kafka.GroupID == "" {
				errs = append(errs, errors.New("Settings.Kafka.GroupID is empty: OffsetsInBroker commits offsets to that consumer group"))
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
