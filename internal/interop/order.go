package interop

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/format"
)

// Order is a row of orders_order, the table the Django test project's
// orders.Order model has: every field type of package drf.
type Order struct {
	ID       int64        `gorm:"column:id;primaryKey"`
	UUID     uuid.UUID    `gorm:"column:uuid;type:uuid;not null"`
	Total    drf.Decimal  `gorm:"column:total;not null"`
	Big      drf.Decimal  `gorm:"column:big;not null"`
	PlacedAt drf.DateTime `gorm:"column:placed_at;not null"`
	Day      drf.Date     `gorm:"column:day;not null"`
	Opens    drf.Time     `gorm:"column:opens;not null"`
	Took     drf.Duration `gorm:"column:took;not null"`
	Data     drf.JSON     `gorm:"column:data;not null"`
	Note     *string      `gorm:"column:note"`
}

// TableName returns "orders_order", Django's table for orders.Order.
func (Order) TableName() string { return "orders_order" }

// OrderV1 is version 1 of the "order" message: the Go twin of the Django
// project's OrderSerializerV1.
type OrderV1 struct {
	UUID     uuid.UUID            `json:"uuid"`
	Total    drf.Decimal          `json:"total" drf:"max_digits=10,decimal_places=2"`
	Big      drf.Decimal          `json:"big" drf:"max_digits=65,decimal_places=30"`
	PlacedAt drf.DateTime         `json:"placed_at"`
	Day      drf.Date             `json:"day"`
	Opens    drf.Time             `json:"opens"`
	Took     drf.Duration         `json:"took"`
	Data     drf.JSON             `json:"data"`
	Note     drf.Optional[string] `json:"note,omitzero"`
}

// MessageType returns "order".
func (*OrderV1) MessageType() string { return "order" }

// Version returns 1.
func (*OrderV1) Version() int { return 1 }

// KeyField returns "uuid".
func (*OrderV1) KeyField() string { return "uuid" }

// Validate applies the decimal fields' limits, as DRF does.
func (m *OrderV1) Validate() error { return drf.Validate(m) }

// LookupInstance returns the order with this UUID, or nil.
func (m *OrderV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var o Order
	err := tx.WithContext(ctx).Where("uuid = ?", m.UUID).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &o, err
}

// Save creates or updates the order (an absent note is left as it is) and
// records the message as Go renders it.
func (m *OrderV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	o, _ := instance.(*Order)
	if o == nil {
		o = &Order{UUID: m.UUID}
	}
	o.Total, o.Big, o.PlacedAt, o.Day, o.Opens, o.Took, o.Data = m.Total, m.Big, m.PlacedAt, m.Day, m.Opens, m.Took, m.Data
	m.Note.Apply(&o.Note)
	if err := tx.WithContext(ctx).Save(o).Error; err != nil {
		return err
	}
	text, err := format.Marshal(m)
	if err != nil {
		return err
	}
	goOrders.add(RenderedOrder{Key: m.UUID.String(), Rendered: string(text)})
	return nil
}

// orderOf returns the message for a row, as a Go producer would send it.
func orderOf(o Order) *OrderV1 {
	return &OrderV1{UUID: o.UUID, Total: o.Total, Big: o.Big, PlacedAt: o.PlacedAt, Day: o.Day, Opens: o.Opens,
		Took: o.Took, Data: o.Data, Note: drf.OptionalOf(o.Note)}
}

// RenderedOrder is an order message as JSON text, with its key.
type RenderedOrder struct {
	Event    string `json:"event"`
	Key      string `json:"key"`
	Rendered string `json:"rendered"`
}

type orderLog struct {
	mu   sync.Mutex
	list []RenderedOrder
}

// goOrders are the orders OrderV1.Save applied, in order.
var goOrders orderLog

func (l *orderLog) add(r RenderedOrder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, r)
}

func (l *orderLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = nil
}

func (l *orderLog) all() []RenderedOrder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RenderedOrder(nil), l.list...)
}

// ProduceOrders sends the Django project's fixture orders with the
// original's Producer and returns DRF's rendering of each.
func (d *Django) ProduceOrders(t testing.TB, topic, format string) []RenderedOrder {
	t.Helper()
	return decodeLines[RenderedOrder](t, d.MustRun(t, "produce_orders", "--topic", topic, "--format", format))
}

// ConsumeOrders runs the original's Consumer with OrderSerializerV1 and
// returns DRF's rendering of each saved instance.
func (d *Django) ConsumeOrders(t testing.TB, topic string) []RenderedOrder {
	t.Helper()
	var applied []RenderedOrder
	done := false
	for _, l := range decodeLines[RenderedOrder](t, d.MustRun(t, "consume_orders", "--topic", topic, "--timeout-ms", "3000")) {
		switch l.Event {
		case "applied":
			applied = append(applied, l)
		case "done":
			done = true
		}
	}
	if !done {
		t.Fatal("consume_orders did not finish")
	}
	return applied
}

// RenderOrders returns every row of orders_order as DRF renders it, read
// by Django from the database.
func (d *Django) RenderOrders(t testing.TB) []RenderedOrder {
	t.Helper()
	return decodeLines[RenderedOrder](t, d.MustRun(t, "render_orders"))
}
