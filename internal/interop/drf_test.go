package interop

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/format"
)

// Zones the DRF field tests run in: UTC renders "Z", New York has DST,
// local mean time before 1883 (-04:56:02) and a repeated hour.
var drfZones = []string{"America/New_York", "UTC"}

// useZone sets TIME_ZONE on both sides.
func useZone(t *testing.T, e *env, zone string) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	drf.SetTimeZone(loc)
	t.Cleanup(func() { drf.SetTimeZone(time.UTC) })
	e.django.env = append(e.django.env, "LOGPIPE_DJANGO_TIME_ZONE="+zone)
}

// Django produces orders with edge values of every DRF field type; the Go
// consumer decodes each, renders it byte for byte as DRF rendered it, and
// writes rows that Django reads back and renders the same.
func TestKafkaDRFFieldsDjangoToGo(t *testing.T) {
	for _, zone := range drfZones {
		for _, f := range []string{"json", "msgpack"} {
			t.Run(zone+"/"+f, func(t *testing.T) { drfDjangoToGo(t, newKafkaEnv(t), zone, f) })
		}
	}
}

// The Go producer sends orders with edge values of every field type, and a
// partial update (note absent: unchanged) and a null (note cleared); the
// original's consumer saves each, and renders the instance byte for byte as
// Go rendered the message.
func TestKafkaDRFFieldsGoToDjango(t *testing.T) {
	for _, zone := range drfZones {
		for _, f := range []string{"json", "msgpack"} {
			t.Run(zone+"/"+f, func(t *testing.T) { drfGoToDjango(t, newKafkaEnv(t), zone, f) })
		}
	}
}

// The same on Kinesis, in one zone and format each way.
func TestKinesisDRFFields(t *testing.T) {
	t.Run("DjangoToGo", func(t *testing.T) { drfDjangoToGo(t, newKinesisEnv(t), "America/New_York", "msgpack") })
	t.Run("GoToDjango", func(t *testing.T) { drfGoToDjango(t, newKinesisEnv(t), "America/New_York", "json") })
}

func drfDjangoToGo(t *testing.T, e *env, zone, f string) {
	useZone(t, e, zone)
	topic := e.topic(t, "orders-dj2go", 1)
	produced := e.django.ProduceOrders(t, topic, f)
	require.Len(t, produced, 5)

	goOrders.reset()
	c, err := logpipe.NewConsumer(e.settings, topic, logpipe.WithIdleTimeout(idle), logpipe.WithThrowErrors())
	require.NoError(t, err)
	require.NoError(t, c.Register(&OrderV1{}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, c.Run(ctx))

	got := goOrders.all()
	require.Len(t, got, len(produced))
	for i, p := range produced {
		assert.Equal(t, p.Key, got[i].Key)
		assert.Equal(t, p.Rendered, got[i].Rendered, "Go renders what DRF rendered")
	}

	// Django reads the rows Go wrote and renders them as it rendered the
	// messages (the JSON value in jsonb's key order, on both sides).
	rows := e.django.RenderOrders(t)
	require.Len(t, rows, len(produced))
	for i, p := range produced {
		assertSameOrder(t, p.Rendered, rows[i].Rendered)
	}
	// Go reads them back and renders them the same, too.
	var goRows []Order
	require.NoError(t, e.db.Order("id").Find(&goRows).Error)
	require.Len(t, goRows, len(produced))
	for i, r := range goRows {
		text, err := format.Marshal(orderOf(r))
		require.NoError(t, err)
		assert.Equal(t, rows[i].Rendered, string(text), "Go renders the row as Django does")
	}
}

func drfGoToDjango(t *testing.T, e *env, zone, f string) {
	useZone(t, e, zone)
	topic := e.topic(t, "orders-go2dj", 1)
	msgs := goOrderMessages(t)

	p, err := logpipe.NewProducer(context.Background(), e.withFormat(f), topic)
	require.NoError(t, err)
	defer p.Close()
	var want []string
	notes := map[uuid.UUID]drf.Optional[string]{}
	for _, m := range msgs {
		_, err := p.Send(context.Background(), m)
		require.NoError(t, err)
		// Django renders the saved instance: an absent note is the one
		// the row had.
		exp := *m
		if exp.Note.IsAbsent() {
			exp.Note = notes[m.UUID]
		}
		notes[m.UUID] = exp.Note
		text, err := format.Marshal(&exp)
		require.NoError(t, err)
		want = append(want, string(text))
	}

	applied := e.django.ConsumeOrders(t, topic)
	require.Len(t, applied, len(msgs), "the original's consumer saved every message")
	for i := range msgs {
		assert.Equal(t, want[i], applied[i].Rendered, "DRF renders what Go sent (message %d)", i)
	}

	// The rows Django wrote, read by Go, render as Django renders them.
	rows := e.django.RenderOrders(t)
	var goRows []Order
	require.NoError(t, e.db.Order("id").Find(&goRows).Error)
	require.Len(t, goRows, len(rows))
	for i, r := range goRows {
		text, err := format.Marshal(orderOf(r))
		require.NoError(t, err)
		assert.Equal(t, rows[i].Rendered, string(text))
	}
	assert.Nil(t, goRows[0].Note, "the null cleared the note after the partial update kept it")
}

// assertSameOrder compares two renderings field by field: every field's
// JSON text byte for byte, but the JSON value ("data") as a value, since
// PostgreSQL's jsonb keeps its own key order.
func assertSameOrder(t *testing.T, want, got string) {
	t.Helper()
	var w, g map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(want), &w))
	require.NoError(t, json.Unmarshal([]byte(got), &g))
	require.Len(t, g, len(w))
	for k, wv := range w {
		if k == "data" {
			assert.JSONEq(t, string(wv), string(g[k]))
			continue
		}
		assert.Equal(t, string(wv), string(g[k]), "field %s", k)
	}
}

func goDec(t *testing.T, s string, digits, places int) drf.Decimal {
	t.Helper()
	d, err := drf.NewDecimal(decimal.RequireFromString(s), digits, places)
	require.NoError(t, err)
	return d
}

// goOrderMessages are the orders the Go producer sends: edge values of
// every type; the first order is then updated without its note (absent:
// unchanged) and with a null note (cleared).
func goOrderMessages(t *testing.T) []*OrderV1 {
	id := func(i int) uuid.UUID {
		return uuid.MustParse("0b0e0000-0000-4000-8000-00000000000" + string(rune('0'+i)))
	}
	day := 24 * time.Hour
	first := &OrderV1{
		UUID: id(1), Total: goDec(t, "-12.3", 10, 2), Big: goDec(t, "99999999999999999999999999999999999.999999999999999999999999999999", 65, 30),
		PlacedAt: drf.NewDateTime(time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)), Day: drf.Date{Year: 1850, Month: 6, Day: 1},
		Opens: drf.Time{}, Took: drf.Duration(-time.Microsecond), Data: drf.MustJSON(`{"b":1,"a":[1.0,"é",null]}`), Note: drf.Some("hello"),
	}
	partial := *first
	partial.Total, partial.Note = goDec(t, "5", 10, 2), drf.Absent[string]()
	cleared := *first
	cleared.Note = drf.Null[string]()
	return []*OrderV1{
		first, &partial, &cleared,
		{
			UUID: id(2), Total: goDec(t, "0", 10, 2), Big: goDec(t, "-0.000000000000000000000000000001", 65, 30),
			PlacedAt: drf.NewDateTime(time.Date(2021, 11, 7, 5, 30, 0, 1000, time.UTC)), Day: drf.Date{Year: 9999, Month: 12, Day: 31},
			Opens: drf.Time{Hour: 23, Minute: 59, Second: 59, Microsecond: 999999}, Took: 0, Data: drf.MustJSON(`[]`), Note: drf.Null[string](),
		},
		{
			UUID: id(3), Total: goDec(t, "99999999.99", 10, 2), Big: goDec(t, "0", 65, 30),
			PlacedAt: drf.NewDateTime(time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)), Day: drf.Date{Year: 1, Month: 1, Day: 1},
			Opens: drf.Time{Hour: 12, Minute: 34, Second: 56, Microsecond: 1}, Took: drf.Duration(3*day + 4*time.Hour + 5*time.Minute + 6500*time.Millisecond),
			Data: drf.MustJSON(`"text"`), Note: drf.Some("multi\nline é \u2028 <&>"),
		},
		{
			UUID: id(4), Total: goDec(t, "-99999999.99", 10, 2), Big: goDec(t, "-12345678901234567890.5", 65, 30),
			PlacedAt: drf.NewDateTime(time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC)), Day: drf.Date{Year: 1969, Month: 12, Day: 31},
			Opens: drf.Time{Hour: 9, Minute: 30}, Took: drf.Duration(-106751 * day),
			Data: drf.MustJSON(`{"n":1e16,"f":0.1,"i":12345678901234567890,"s":"\u0001","z":{"y":{"x":{}}}}`), Note: drf.Some("x"),
		},
		{
			UUID: id(5), Total: goDec(t, "0.01", 10, 2), Big: goDec(t, "0.5", 65, 30),
			PlacedAt: drf.NewDateTime(time.Date(2000, 1, 1, 0, 0, 0, 250e6, time.FixedZone("", 5*3600+1800))), Day: drf.Date{Year: 2000, Month: 2, Day: 29},
			Opens: drf.Time{Microsecond: 1}, Took: drf.Duration(106750*day + 86399999999*time.Microsecond),
			Data: drf.MustJSON(`{"zz":true,"aa":false,"mm":-0.0}`), Note: drf.Null[string](),
		},
	}
}
