package logpipe_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Order is an application model, and OrderV1 the message that carries it.
type Order struct {
	ID     uint   `gorm:"primaryKey"`
	Number string `gorm:"uniqueIndex"`
	Total  int
}

type OrderV1 struct {
	Number string `json:"number"`
	Total  int    `json:"total"`
}

func (*OrderV1) MessageType() string { return "order" }
func (*OrderV1) Version() int        { return 1 }
func (*OrderV1) KeyField() string    { return "number" }

func (o *OrderV1) Validate() error {
	if o.Number == "" {
		return logpipe.Invalid("number", "required")
	}
	return nil
}

func (o *OrderV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var order Order
	err := tx.WithContext(ctx).Where("number = ?", o.Number).Take(&order).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &order, err
}

func (o *OrderV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	order, _ := instance.(*Order)
	if order == nil {
		order = &Order{Number: o.Number}
	}
	order.Total = o.Total
	return tx.WithContext(ctx).Save(order).Error
}

// exampleDB opens a fresh SQLite database with the offsets and orders tables.
func exampleDB() (*gorm.DB, func()) {
	dir, _ := os.MkdirTemp("", "logpipe-example-")
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	if err := offsetstore.Migrate(context.Background(), db); err != nil {
		panic(err)
	}
	if err := db.AutoMigrate(&Order{}); err != nil {
		panic(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		os.RemoveAll(dir)
	}
}

// Send a message and apply it on the other side.
func Example() {
	ctx := context.Background()
	db, cleanup := exampleDB()
	defer cleanup()
	settings := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}

	producer, err := logpipe.NewProducer(context.Background(), settings, "orders")
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	pos, err := producer.Send(ctx, &OrderV1{Number: "A-1", Total: 42})
	if err != nil {
		panic(err)
	}
	fmt.Println("sent to", pos)

	consumer, err := logpipe.NewConsumer(settings, "orders", logpipe.WithIdleTimeout(100*time.Millisecond))
	if err != nil {
		panic(err)
	}
	if err := consumer.Register(&OrderV1{}); err != nil {
		panic(err)
	}
	if err := consumer.Run(ctx); err != nil { // returns once idle
		panic(err)
	}
	var order Order
	db.Take(&order)
	fmt.Println("applied", order.Number, order.Total)
	// Output:
	// sent to orders/0@0
	// applied A-1 42
}

// Register consumer factories in init(), then run them all from main.
func ExampleRegisterConsumer() {
	registry := &logpipe.Registry{} // applications use RegisterConsumer and DefaultRegistry
	registry.Register(func(s logpipe.Settings) (logpipe.Runner, error) {
		c, err := logpipe.NewConsumer(s, "orders", logpipe.WithIdleTimeout(100*time.Millisecond))
		if err != nil {
			return nil, err
		}
		return c, c.Register(&OrderV1{})
	})

	db, cleanup := exampleDB()
	defer cleanup()
	settings := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}
	producer, _ := logpipe.NewProducer(context.Background(), settings, "orders")
	_, _ = producer.SendBatch(context.Background(), []logpipe.Message{
		&OrderV1{Number: "A-1", Total: 1}, &OrderV1{Number: "A-2", Total: 2}, &OrderV1{Number: "A-1", Total: 3},
	})
	if err := registry.Run(context.Background(), settings); err != nil {
		panic(err)
	}
	var orders []Order
	db.Order("number").Find(&orders)
	for _, o := range orders {
		fmt.Println(o.Number, o.Total)
	}
	// Output:
	// A-1 3
	// A-2 2
}

// A consumer returns record errors instead of skipping them when asked.
func ExampleWithThrowErrors() {
	db, cleanup := exampleDB()
	defer cleanup()
	settings := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}
	producer, _ := logpipe.NewProducer(context.Background(), settings, "orders")
	_, _ = producer.Send(context.Background(), &OrderV1{Number: "", Total: 1})

	consumer, _ := logpipe.NewConsumer(settings, "orders", logpipe.WithThrowErrors(), logpipe.WithIdleTimeout(100*time.Millisecond))
	_ = consumer.Register(&OrderV1{})
	err := consumer.Run(context.Background())
	var recErr *logpipe.RecordError
	if errors.As(err, &recErr) && errors.Is(err, logpipe.ErrValidation) {
		fmt.Println("invalid record at", recErr.Position)
	}
	fmt.Println(err)
	// Output:
	// invalid record at orders/0@0
	// logpipe: invalid message fields "order" version 1 (record orders/0@0, key ""): number: required
}

// Run consumers of several topics at once.
func ExampleMultiConsumer() {
	db, cleanup := exampleDB()
	defer cleanup()
	settings := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}
	var consumers []logpipe.Runner
	for _, topic := range []string{"orders-eu", "orders-us"} {
		producer, _ := logpipe.NewProducer(context.Background(), settings, topic)
		_, _ = producer.Send(context.Background(), &OrderV1{Number: topic, Total: 1})
		c, _ := logpipe.NewConsumer(settings, topic, logpipe.WithIdleTimeout(100*time.Millisecond))
		_ = c.Register(&OrderV1{})
		consumers = append(consumers, c)
	}
	if err := logpipe.NewMultiConsumer(consumers...).Run(context.Background()); err != nil {
		panic(err)
	}
	var n int64
	db.Model(&Order{}).Count(&n)
	fmt.Println(n, "orders applied")
	// Output:
	// 2 orders applied
}
