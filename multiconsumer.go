package logpipe

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Runner is anything that works until its context ends or it stops by
// itself: a *Consumer, or a relay that forwards records. MultiConsumer and
// the Registry run Runners.
type Runner interface {
	// Run works until ctx ends (then it returns nil) or it fails.
	Run(ctx context.Context) error
}

// MultiConsumer runs several consumers (or other Runners) at once, each in
// its own goroutine, so one slow topic does not hold up the others (the
// original round-robins them in one thread). Each consumer keeps its own
// order.
type MultiConsumer struct {
	mu      sync.Mutex
	runners []Runner
}

// NewMultiConsumer returns a MultiConsumer of the given consumers.
func NewMultiConsumer(runners ...Runner) *MultiConsumer {
	return &MultiConsumer{runners: runners}
}

// Add adds consumers for the next Run.
func (m *MultiConsumer) Add(runners ...Runner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runners = append(m.runners, runners...)
}

// Run runs every consumer until ctx ends or each has stopped (idle
// timeouts). The first error stops all the others and is returned; it
// returns nil when all stopped cleanly. A nil consumer, a consumer given
// twice, or two consumers of one topic with the same name (WithName) on one
// backend, is an error before anything runs: two consumers of a topic
// sharing positions would fence each other off. Consumers of one topic with
// different names keep separate positions, and may run together.
func (m *MultiConsumer) Run(ctx context.Context) error {
	if m == nil {
		return errors.New("logpipe: Run of a nil *MultiConsumer")
	}
	m.mu.Lock()
	runners := append([]Runner(nil), m.runners...)
	m.mu.Unlock()
	seen := map[string]bool{}
	for i, r := range runners {
		if isNil(r) {
			return fmt.Errorf("logpipe: MultiConsumer's consumer %d is nil", i)
		}
		c, ok := r.(*Consumer)
		if !ok {
			continue
		}
		key := c.settings.Backend.Name() + "\x00" + c.topic + "\x00" + c.cfg.name
		if seen[key] {
			if c.cfg.name != "" {
				return fmt.Errorf("logpipe: MultiConsumer has two consumers of %s topic %q named %q: give each its own name, or register their serializers on one consumer", c.settings.Backend.Name(), c.topic, c.cfg.name)
			}
			return fmt.Errorf("logpipe: MultiConsumer has two consumers of %s topic %q: register each topic's serializers on one consumer, or name them (WithName) to keep separate positions", c.settings.Backend.Name(), c.topic)
		}
		seen[key] = true
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error { return r.Run(ctx) })
	}
	return g.Wait()
}
