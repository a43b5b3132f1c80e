package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/offsetstore"
	"github.com/logpipe-go/logpipe/outbox"
)

// Order is the application's model; OrderV1 the message that publishes it.
type Order struct {
	Number string `gorm:"primaryKey"`
	Total  int
}

type OrderV1 struct {
	Number string `json:"number"`
	Total  int    `json:"total"`
}

func (*OrderV1) MessageType() string { return "order" }
func (*OrderV1) Version() int        { return 1 }
func (*OrderV1) KeyField() string    { return "number" }

// Save an order and its message in one transaction; a relay sends the
// message once the transaction has committed.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "outbox-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if err := offsetstore.Migrate(ctx, db); err != nil { // the outbox's tables too
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Order{}); err != nil {
		log.Fatal(err)
	}
	broker := memory.NewBroker() // or kafka.New(...), kinesis.New(...)
	if err := broker.CreateTopic("orders", 1); err != nil {
		log.Fatal(err)
	}
	settings := logpipe.Settings{Backend: broker, DB: db, ProducerID: "billing"}

	// readme:begin outbox
	orders, err := outbox.NewWriter(settings, "orders")
	if err != nil {
		log.Fatal(err)
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		o := Order{Number: "A-1", Total: 42}
		if err := tx.Create(&o).Error; err != nil {
			return err
		}
		_, err := orders.Send(ctx, tx, &OrderV1{Number: o.Number, Total: o.Total})
		return err // an error rolls back the order and its message
	})
	if err != nil {
		log.Fatal(err)
	}
	// readme:end outbox
	_ = db.Transaction(func(tx *gorm.DB) error {
		if _, err := orders.Send(ctx, tx, &OrderV1{Number: "A-2", Total: 7}); err != nil {
			return err
		}
		return errors.New("payment refused") // rolled back: never sent
	})

	// The relay: run it like a consumer (alone, in a MultiConsumer or
	// from the Registry); here until the outbox is empty.
	relay, err := outbox.NewRelay(settings, outbox.WithPollInterval(10*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- relay.Run(runCtx) }()
	for n := int64(1); n > 0; {
		time.Sleep(10 * time.Millisecond)
		if n, err = outbox.Pending(ctx, db); err != nil {
			log.Fatal(err)
		}
	}
	stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	for _, r := range broker.Records("orders", 0) {
		fmt.Printf("%s %s\n", r.Key, r.Value)
	}
	// Output:
	// A-1 json:{"type":"order","version":1,"message":{"number":"A-1","total":42},"producer":"billing"}
}
