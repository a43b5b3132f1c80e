package logpipe_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
)

// appliedCounter is a hook that counts the records applied, by type. A hook
// implements any of the Hook... interfaces; logpipe finds them by type
// assertion.
type appliedCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *appliedCounter) OnRecordApplied(_ context.Context, e logpipe.ApplyEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[e.Type]++
}

func (h *appliedCounter) OnRecordSkipped(_ context.Context, e logpipe.SkipEvent) {
	fmt.Printf("skipped %s: %s\n", e.Position, e.Reason)
}

// Hooks see what producers and consumers do: here, a counter of the
// records applied and a line for each record skipped.
func ExampleHook() {
	db, cleanup := exampleDB()
	defer cleanup()
	ctx := context.Background()
	broker := memory.NewBroker(memory.WithAutoCreateTopics(1))
	counter := &appliedCounter{n: map[string]int{}}
	settings := logpipe.Settings{Backend: broker, DB: db, Hooks: []logpipe.Hook{counter}}

	producer, err := logpipe.NewProducer(ctx, settings, "orders")
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	for _, o := range []*OrderV1{{Number: "A-1", Total: 10}, {Number: "", Total: 5}, {Number: "A-2", Total: 7}} {
		if _, err := producer.Send(ctx, o); err != nil {
			panic(err)
		}
	}
	consumer, err := logpipe.NewConsumer(settings, "orders", logpipe.WithLimit(3))
	if err != nil {
		panic(err)
	}
	if err := consumer.Register(&OrderV1{}); err != nil {
		panic(err)
	}
	if err := consumer.Run(ctx); err != nil {
		panic(err)
	}
	fmt.Println("applied:", counter.n)
	// Output:
	// skipped orders/0@1: validation
	// applied: map[order:2]
}

// Consumer.Lag says how far a consumer is behind, from what its fetches
// learned; a health check can call it at any time.
func ExampleConsumer_Lag() {
	db, cleanup := exampleDB()
	defer cleanup()
	ctx := context.Background()
	broker := memory.NewBroker(memory.WithAutoCreateTopics(1))
	settings := logpipe.Settings{Backend: broker, DB: db}
	producer, err := logpipe.NewProducer(ctx, settings, "orders")
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	for i := range 5 {
		if _, err := producer.Send(ctx, &OrderV1{Number: fmt.Sprint("B-", i), Total: i}); err != nil {
			panic(err)
		}
	}
	consumer, err := logpipe.NewConsumer(settings, "orders", logpipe.WithLimit(2))
	if err != nil {
		panic(err)
	}
	if err := consumer.Register(&OrderV1{}); err != nil {
		panic(err)
	}
	if err := consumer.Run(ctx); err != nil {
		panic(err)
	}
	for _, l := range consumer.Lag() {
		fmt.Printf("%s/%d: next %d, end %d, %d records behind\n", l.Topic, l.Partition, l.Next, l.End, l.Records)
	}
	// Output:
	// orders/0: next 2, end 5, 3 records behind
}
