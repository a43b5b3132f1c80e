package kafka

import (
	"context"
	"errors"

	"github.com/logpipe-go/logpipe/backend"
)

// Backend is the Kafka backend as logpipe.Settings holds it:
//
//	logpipe.Settings{Backend: kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:9092"}}), DB: db}
//
// It opens a Producer or a Consumer per logpipe.Producer or Consumer.
type Backend struct {
	cfg Config
}

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.Validator     = (*Backend)(nil)
	_ backend.BrokerOffsets = (*Backend)(nil)
)

// New returns the Kafka backend configured by cfg. It does not validate or
// connect: logpipe.NewProducer and NewConsumer call Validate, and the first
// send or fetch connects.
func New(cfg Config) *Backend { return &Backend{cfg: cfg} }

// Name returns "kafka".
func (b *Backend) Name() string { return "kafka" }

// Config returns the configuration the backend was made with.
func (b *Backend) Config() Config { return b.cfg }

// Validate reports every problem with the configuration; see Config.Validate.
func (b *Backend) Validate() error { return b.cfg.Validate() }

// BrokerOffsets reports whether consumers can keep their offsets in a
// consumer group: Config.GroupID must be set.
func (b *Backend) BrokerOffsets() error { return b.cfg.brokerOffsets() }

// NewProducer returns a Producer; opts.Logger receives its logs unless
// Config.Logger is set.
func (b *Backend) NewProducer(_ context.Context, opts backend.ProducerOptions) (backend.Producer, error) {
	cfg := b.cfg
	if cfg.Logger == nil {
		cfg.Logger = opts.Logger
	}
	p, err := NewProducer(cfg)
	if err != nil {
		return nil, err
	}
	p.onRetry = opts.OnRetry
	return p, nil
}

// NewConsumer returns a Consumer of opts.Topic; see ConsumerOptions.
func (b *Backend) NewConsumer(_ context.Context, opts backend.ConsumerOptions) (backend.Consumer, error) {
	return NewConsumer(b.cfg, opts)
}

// brokerOffsets says what is missing for offsets kept in a consumer group.
func (c Config) brokerOffsets() error {
	if c.GroupID == "" {
		return errors.New("logpipe/kafka: Config.GroupID is empty: offsets kept in the broker need a consumer group; set GroupID, or keep offsets in the database")
	}
	return nil
}
