package logpipe_test

import (
	"context"
	"fmt"
	"time"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Two consumers of one topic on one database, each named, keep their own
// positions: each applies every record, and runs beside the other in one
// MultiConsumer.
func ExampleWithName() {
	db, cleanup := exampleDB()
	defer cleanup()
	broker := memory.NewBroker()
	if err := broker.CreateTopic("orders", 1); err != nil {
		panic(err)
	}
	settings := logpipe.Settings{Backend: broker, DB: db}
	ctx := context.Background()
	producer, err := logpipe.NewProducer(ctx, settings, "orders")
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	for _, number := range []string{"A-1", "A-2", "A-3"} {
		if _, err := producer.Send(ctx, &OrderV1{Number: number, Total: 10}); err != nil {
			panic(err)
		}
	}

	var runners []logpipe.Runner
	for _, name := range []string{"indexer", "billing"} {
		c, err := logpipe.NewConsumer(settings, "orders", logpipe.WithName(name), logpipe.WithIdleTimeout(200*time.Millisecond))
		if err != nil {
			panic(err)
		}
		if err := c.Register(&OrderV1{}); err != nil {
			panic(err)
		}
		runners = append(runners, c)
	}
	if err := logpipe.NewMultiConsumer(runners...).Run(ctx); err != nil {
		panic(err)
	}
	for _, name := range []string{"indexer", "billing"} {
		positions, err := (&offsetstore.Kafka{DB: db}).Load(ctx, name, "orders")
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: last applied offset %d\n", name, positions[0].Offset)
	}
	// Output:
	// indexer: last applied offset 2
	// billing: last applied offset 2
}
