// Command drf shows the field types of package drf in a consumer and a
// producer for a Django model with a UUID, a DecimalField, a time-zone-aware
// DateTimeField, a DateField, a TimeField, a DurationField, a JSONField and
// a nullable TextField:
//
//	class Order(models.Model):
//	    uuid = models.UUIDField(unique=True)
//	    total = models.DecimalField(max_digits=10, decimal_places=2)
//	    placed_at = models.DateTimeField()
//	    delivery_date = models.DateField()
//	    opens_at = models.TimeField()
//	    prep_time = models.DurationField()
//	    details = models.JSONField()
//	    note = models.TextField(null=True)
//
//	class OrderSerializerV1(serializers.ModelSerializer):
//	    MESSAGE_TYPE = "order"
//	    VERSION = 1
//	    KEY_FIELD = "uuid"
//	    class Meta:
//	        model = Order
//	        fields = ["uuid", "total", "placed_at", "delivery_date", "opens_at",
//	                  "prep_time", "details", "note"]
//
// It sends orders through the in-memory broker and applies them to SQLite,
// printing each message as it travels (byte for byte what DRF renders for
// the same values, with TIME_ZONE = "America/New_York").
//
//	go run ./examples/drf
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/libtnb/sqlite"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/format"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Order is the consumer's model: the columns Django creates for Order.
type Order struct {
	ID           int64        `gorm:"primaryKey"`
	UUID         string       `gorm:"size:36;uniqueIndex"`
	Total        drf.Decimal  `gorm:"type:numeric(10,2)"`
	PlacedAt     drf.DateTime `gorm:"not null"`
	DeliveryDate drf.Date     `gorm:"not null"`
	OpensAt      drf.Time     `gorm:"not null"`
	PrepTime     drf.Duration `gorm:"not null"`
	Details      drf.JSON     `gorm:"not null"`
	Note         *string      // null=True
}

// OrderV1 is version 1 of the "order" message, the Go twin of
// OrderSerializerV1.
type OrderV1 struct {
	UUID         uuid.UUID    `json:"uuid"`
	Total        drf.Decimal  `json:"total" drf:"max_digits=10,decimal_places=2"`
	PlacedAt     drf.DateTime `json:"placed_at"`
	DeliveryDate drf.Date     `json:"delivery_date"`
	OpensAt      drf.Time     `json:"opens_at"`
	PrepTime     drf.Duration `json:"prep_time"`
	Details      drf.JSON     `json:"details"`
	// Note may be absent (a partial message: leave it unchanged), null
	// (clear it) or text.
	Note drf.Optional[string] `json:"note,omitzero"`
}

// MessageType is MESSAGE_TYPE.
func (*OrderV1) MessageType() string { return "order" }

// Version is VERSION.
func (*OrderV1) Version() int { return 1 }

// KeyField is KEY_FIELD.
func (*OrderV1) KeyField() string { return "uuid" }

// Validate applies DecimalField's max_digits and decimal_places (from the
// drf tags), as DRF's is_valid does; errors name the field.
func (o *OrderV1) Validate() error { return drf.Validate(o) }

// LookupInstance finds the order the message updates.
func (o *OrderV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var order Order
	err := tx.WithContext(ctx).Where("uuid = ?", o.UUID.String()).Take(&order).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &order, err
}

// Save creates or updates the order.
func (o *OrderV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	order, _ := instance.(*Order)
	if order == nil {
		order = &Order{UUID: o.UUID.String()}
	}
	order.Total, order.PlacedAt, order.DeliveryDate = o.Total, o.PlacedAt, o.DeliveryDate
	order.OpensAt, order.PrepTime, order.Details = o.OpensAt, o.PrepTime, o.Details
	o.Note.Apply(&order.Note) // absent: unchanged; null: NULL; text: text
	return tx.WithContext(ctx).Save(order).Error
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) (err error) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		return err
	}
	drf.SetTimeZone(ny) // the Django app's TIME_ZONE

	dir, err := os.MkdirTemp("", "logpipe-drf-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "orders.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	if err := offsetstore.Migrate(ctx, db); err != nil {
		return err
	}
	if err := db.AutoMigrate(&Order{}); err != nil {
		return err
	}
	broker := memory.NewBroker() // stands in for Kafka or Kinesis
	if err := broker.CreateTopic("orders", 1); err != nil {
		return err
	}
	settings := logpipe.Settings{Backend: broker, DB: db}

	producer, err := logpipe.NewProducer(ctx, settings, "orders")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, producer.Close()) }()
	total, err := drf.NewDecimal(decimal.RequireFromString("1234.5"), 10, 2)
	if err != nil {
		return err
	}
	id := uuid.MustParse("0b6f6c1e-3d2a-4c55-9a0e-6c1d1f8b2a01")
	order := &OrderV1{
		UUID: id, Total: total,
		PlacedAt:     drf.NewDateTime(time.Date(2024, 3, 10, 6, 59, 59, 500000000, time.UTC)),
		DeliveryDate: drf.Date{Year: 2024, Month: time.March, Day: 12},
		OpensAt:      drf.Time{Hour: 9, Minute: 30},
		PrepTime:     drf.Duration(26*time.Hour + 90*time.Second),
		Details:      drf.MustJSON(`{"sku":"A-1","qty":2,"gift":true}`),
		Note:         drf.Some("leave at the door"),
	}
	partial := *order
	partial.Note = drf.Absent[string]() // a partial message: the note stays
	cleared := *order
	cleared.Note = drf.Null[string]() // the note is cleared
	for _, msg := range []*OrderV1{order, &partial, &cleared} {
		text, err := format.Marshal(msg)
		if err != nil {
			return err
		}
		fmt.Printf("send %s\n", text)
		if _, err := producer.Send(ctx, msg); err != nil {
			return err
		}
		if err := consume(ctx, settings); err != nil {
			return err
		}
	}
	return nil
}

// consume applies what is on the topic and prints the row.
func consume(ctx context.Context, settings logpipe.Settings) error {
	consumer, err := logpipe.NewConsumer(settings, "orders", logpipe.WithIdleTimeout(200*time.Millisecond))
	if err != nil {
		return err
	}
	if err := consumer.Register(&OrderV1{}); err != nil {
		return err
	}
	if err := consumer.Run(ctx); err != nil {
		return err
	}
	var row Order
	if err := settings.DB.WithContext(ctx).Take(&row).Error; err != nil {
		return err
	}
	note := "NULL"
	if row.Note != nil {
		note = *row.Note
	}
	fmt.Printf("row  total=%s placed_at=%s prep_time=%s note=%s\n", row.Total, row.PlacedAt, row.PrepTime, note)
	return nil
}
