package logpipe

import (
	"context"
	"fmt"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// openProducer returns the backend producer that s selects. s is validated.
func openProducer(s Settings) (backend.Producer, error) {
	switch s.Backend {
	case BackendMemory:
		return s.Memory.NewProducer(), nil
	case BackendKafka:
		return kafka.NewProducer(s.Kafka)
	case BackendKinesis:
		return kinesis.NewProducer(context.Background(), s.Kinesis)
	}
	return nil, fmt.Errorf("logpipe: unknown backend %q", s.Backend)
}

// openConsumer returns the backend consumer of topic that s selects, with
// its offset store. s is validated.
func openConsumer(ctx context.Context, s Settings, topic string) (backend.Consumer, error) {
	switch s.Backend {
	case BackendMemory:
		return s.Memory.NewConsumer(topic, &offsetstore.Kafka{DB: s.DB}), nil
	case BackendKafka:
		opts := kafka.ConsumerOptions{Topic: topic, Logger: s.Logger}
		if s.Offsets == OffsetsInDatabase {
			opts.Offsets = &offsetstore.Kafka{DB: s.DB}
		}
		return kafka.NewConsumer(s.Kafka, opts)
	case BackendKinesis:
		return kinesis.NewConsumer(ctx, s.Kinesis, kinesis.ConsumerOptions{Stream: topic, DB: s.DB, Logger: s.Logger})
	}
	return nil, fmt.Errorf("logpipe: unknown backend %q", s.Backend)
}
