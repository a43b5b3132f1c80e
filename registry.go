package logpipe

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// ConsumerFactory builds a consumer (or any Runner, such as a relay) from
// the application's settings, like a function decorated with the original's
// register_consumer.
type ConsumerFactory func(Settings) (Runner, error)

// Registry holds consumer factories, so that packages can register their
// consumers in init() and one call runs them all (the original's
// run_kafka_consumer command).
type Registry struct {
	mu        sync.Mutex
	factories []ConsumerFactory
}

// DefaultRegistry is the registry of RegisterConsumer and RunConsumers.
var DefaultRegistry = &Registry{}

// RegisterConsumer adds f to DefaultRegistry. Call it from init().
func RegisterConsumer(f ConsumerFactory) { DefaultRegistry.Register(f) }

// RunConsumers builds every consumer of DefaultRegistry with s and runs
// them together until ctx ends; see Registry.Run.
func RunConsumers(ctx context.Context, s Settings) error { return DefaultRegistry.Run(ctx, s) }

// Register adds a consumer factory.
func (r *Registry) Register(f ConsumerFactory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.factories = append(r.factories, f)
}

// Build calls every factory with s and returns the consumers. Every factory
// is called; their errors are joined. A factory that returns neither a
// consumer nor an error is an error.
func (r *Registry) Build(s Settings) ([]Runner, error) {
	r.mu.Lock()
	factories := append([]ConsumerFactory(nil), r.factories...)
	r.mu.Unlock()
	var (
		out  []Runner
		errs []error
	)
	for i, f := range factories {
		if f == nil {
			errs = append(errs, fmt.Errorf("logpipe: consumer factory %d is nil", i))
			continue
		}
		c, err := f(s)
		if err == nil && isNil(c) {
			err = errors.New("returned no consumer and no error")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("logpipe: consumer factory %d: %w", i, err))
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// Run builds every registered consumer with s and runs them in a
// MultiConsumer until ctx ends, the first error (returned), or all have
// stopped.
func (r *Registry) Run(ctx context.Context, s Settings) error {
	consumers, err := r.Build(s)
	if err != nil {
		return err
	}
	if len(consumers) == 0 {
		return errors.New("logpipe: no consumers are registered (call RegisterConsumer from init)")
	}
	return NewMultiConsumer(consumers...).Run(ctx)
}

// isNil reports whether r is nil or holds a nil pointer.
func isNil(r Runner) bool {
	if r == nil {
		return true
	}
	v := reflect.ValueOf(r)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
