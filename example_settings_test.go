package logpipe_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// One Settings value configures producers and consumers. This is the
// README's Settings example, as it is pasted there (readme_test.go checks
// that the two are the same).
func ExampleSettings() {
	dir, _ := os.MkdirTemp("", "logpipe-settings-")
	defer os.RemoveAll(dir)
	// readme:begin settings
	ctx := context.Background()
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if err := offsetstore.Migrate(ctx, db); err != nil { // the offsets tables, as Django's migrate makes them
		log.Fatal(err)
	}
	broker := memory.NewBroker() // or kafka.New(kafka.Config{...}), kinesis.New(kinesis.Config{...})
	if err := broker.CreateTopic("orders", 1); err != nil {
		log.Fatal(err)
	}
	settings := logpipe.Settings{
		Backend:    broker,
		DB:         db,                // *gorm.DB: LookupInstance/Save run here, offsets too
		Format:     "json",            // the default; or "msgpack"
		ProducerID: "billing-service", // sent as the envelope's "producer"
		Logger:     slog.Default(),    // the default: warnings only, unless the handler enables more
	}
	producer, err := logpipe.NewProducer(ctx, settings, "orders")
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close()
	consumer, err := logpipe.NewConsumer(settings, "orders", logpipe.WithLimit(1))
	if err != nil {
		log.Fatal(err)
	}
	// readme:end settings
	if err := db.AutoMigrate(&Order{}); err != nil {
		log.Fatal(err)
	}
	if err := consumer.Register(&OrderV1{}); err != nil {
		log.Fatal(err)
	}
	if _, err := producer.Send(ctx, &OrderV1{Number: "A-7", Total: 70}); err != nil {
		log.Fatal(err)
	}
	if err := consumer.Run(ctx); err != nil { // returns after one record (WithLimit)
		log.Fatal(err)
	}
	var order Order
	db.Take(&order)
	fmt.Println(order.Number, order.Total)
	// Output: A-7 70
}
