package logpipe

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// MultiConsumer runs several consumers at once, each in its own goroutine,
// so one slow topic does not hold up the others (the original round-robins
// them in one thread). Each consumer keeps its own order.
type MultiConsumer struct {
	consumers []*Consumer
}

// NewMultiConsumer returns a MultiConsumer of the given consumers.
func NewMultiConsumer(consumers ...*Consumer) *MultiConsumer {
	return &MultiConsumer{consumers: consumers}
}

// Add adds consumers. Call it before Run.
func (m *MultiConsumer) Add(consumers ...*Consumer) {
	m.consumers = append(m.consumers, consumers...)
}

// Run runs every consumer until ctx ends or each has stopped (idle
// timeouts). The first error stops all the others and is returned; it
// returns nil when all stopped cleanly.
func (m *MultiConsumer) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range m.consumers {
		g.Go(func() error { return c.Run(ctx) })
	}
	return g.Wait()
}
