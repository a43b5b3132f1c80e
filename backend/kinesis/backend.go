package kinesis

import (
	"context"

	"github.com/logpipe-go/logpipe/backend"
)

// Backend is the Kinesis backend as logpipe.Settings holds it:
//
//	logpipe.Settings{Backend: kinesis.New(kinesis.Config{Region: "eu-west-1"}), DB: db}
//
// It opens a Producer or a Consumer per logpipe.Producer or Consumer. Kinesis
// records have no headers: the backend drops backend.Message.Headers, and
// records it reads have none.
type Backend struct {
	cfg Config
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Validator = (*Backend)(nil)
)

// New returns the Kinesis backend configured by cfg. It does not validate or
// connect: logpipe.NewProducer and NewConsumer call Validate, and opening a
// producer or consumer loads the AWS configuration.
func New(cfg Config) *Backend { return &Backend{cfg: cfg} }

// Name returns "kinesis".
func (b *Backend) Name() string { return "kinesis" }

// Config returns the configuration the backend was made with.
func (b *Backend) Config() Config { return b.cfg }

// Validate reports every problem with the configuration; see Config.Validate.
func (b *Backend) Validate() error { return b.cfg.Validate() }

// NewProducer loads the AWS configuration and returns a Producer. The
// producer logs nothing: its retries are bounded by Config.SendTimeout and
// their outcome is the error Send returns.
func (b *Backend) NewProducer(ctx context.Context, opts backend.ProducerOptions) (backend.Producer, error) {
	p, err := NewProducer(ctx, b.cfg)
	if err != nil {
		return nil, err
	}
	p.onRetry = opts.OnRetry
	return p, nil
}

// NewConsumer returns a Consumer of the stream opts.Topic; see
// ConsumerOptions.
func (b *Backend) NewConsumer(ctx context.Context, opts backend.ConsumerOptions) (backend.Consumer, error) {
	return NewConsumer(ctx, b.cfg, opts)
}
