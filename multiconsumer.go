package logpipe

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// MultiConsumer runs several consumers at once, each in its own goroutine,
// so one slow topic does not hold up the others (the original round-robins
// them in one thread). Each consumer keeps its own order.
type MultiConsumer struct {
	mu        sync.Mutex
	consumers []*Consumer
}

// NewMultiConsumer returns a MultiConsumer of the given consumers.
func NewMultiConsumer(consumers ...*Consumer) *MultiConsumer {
	return &MultiConsumer{consumers: consumers}
}

// Add adds consumers for the next Run.
func (m *MultiConsumer) Add(consumers ...*Consumer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.consumers = append(m.consumers, consumers...)
}

// Run runs every consumer until ctx ends or each has stopped (idle
// timeouts). The first error stops all the others and is returned; it
// returns nil when all stopped cleanly. A consumer given twice, or two
// consumers of one topic, is an error before anything runs: two consumers
// of a topic sharing an offsets table would apply each record twice.
func (m *MultiConsumer) Run(ctx context.Context) error {
	m.mu.Lock()
	consumers := append([]*Consumer(nil), m.consumers...)
	m.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range consumers {
		key := string(c.settings.Backend) + "\x00" + c.topic
		if seen[key] {
			return fmt.Errorf("logpipe: MultiConsumer has two consumers of %s topic %q: register each topic's serializers on one consumer", c.settings.Backend, c.topic)
		}
		seen[key] = true
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range consumers {
		g.Go(func() error { return c.Run(ctx) })
	}
	return g.Wait()
}
