package drf_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/format"
)

// order is a message with every type, as a DRF serializer of a model with
// a UUID, a DecimalField, a DateTimeField, a JSONField and nullable fields.
type order struct {
	ID      int                        `json:"id"`
	Total   drf.Decimal                `json:"total" drf:"max_digits=10,decimal_places=2"`
	Placed  drf.DateTime               `json:"placed"`
	Day     drf.Date                   `json:"day"`
	Opens   drf.Time                   `json:"opens"`
	Took    drf.Duration               `json:"took"`
	Data    drf.JSON                   `json:"data"`
	Note    drf.Optional[string]       `json:"note,omitzero"`
	Tip     drf.Optional[drf.Decimal]  `json:"tip,omitzero" drf:"max_digits=5,decimal_places=2"`
	Shipped drf.Optional[drf.DateTime] `json:"shipped,omitzero"`
}

func sampleOrder(t *testing.T) order {
	total, err := drf.NewDecimal(decimal.RequireFromString("-1234.5"), 10, 2)
	require.NoError(t, err)
	return order{
		ID: 7, Total: total,
		Placed: drf.NewDateTime(time.Date(1969, 7, 20, 20, 17, 40, 1000, time.UTC)),
		Day:    drf.Date{Year: 1900, Month: 2, Day: 28}, Opens: drf.Time{Hour: 9},
		Took: drf.Duration(-90 * time.Minute), Data: drf.MustJSON(`{"z":1,"a":{"y":2.5,"b":[true,null]}}`),
		Note: drf.Null[string](),
	}
}

const sampleJSON = `{"id":7,"total":"-1234.50","placed":"1969-07-20T20:17:40.000001Z","day":"1900-02-28","opens":"09:00:00",` +
	`"took":"-1 22:30:00","data":{"z":1,"a":{"y":2.5,"b":[true,null]}},"note":null}`

func TestMessageRendersAsDRF(t *testing.T) {
	out, err := format.Marshal(sampleOrder(t))
	require.NoError(t, err)
	assert.Equal(t, sampleJSON, string(out))
}

// Absent, null and a value are three different messages, both ways.
func TestOptionalAbsentNullValue(t *testing.T) {
	var m order
	require.NoError(t, format.Unmarshal([]byte(sampleJSON), &m))
	assert.True(t, m.Note.IsNull())
	assert.True(t, m.Tip.IsAbsent())
	assert.True(t, m.Shipped.IsAbsent())

	require.NoError(t, format.Unmarshal([]byte(`{"note":"hi","tip":"1.5","shipped":"2020-01-02T03:04:05+01:00"}`), &m))
	note, ok := m.Note.Get()
	assert.True(t, ok)
	assert.Equal(t, "hi", note)
	require.NoError(t, drf.Validate(&m))
	tip, _ := m.Tip.Get()
	assert.Equal(t, "1.50", tip.String())
	shipped, _ := m.Shipped.Get()
	assert.Equal(t, "2020-01-02T02:04:05Z", shipped.String())

	var email *string
	old := "old@example.com"
	email = &old
	drf.Absent[string]().Apply(&email)
	assert.Equal(t, &old, email, "absent leaves the column unchanged")
	drf.Null[string]().Apply(&email)
	assert.Nil(t, email, "null clears it")
	drf.Some("new@example.com").Apply(&email)
	assert.Equal(t, "new@example.com", *email)
	assert.Equal(t, drf.Null[string](), drf.OptionalOf[string](nil))

	// Without omitzero an absent field cannot be rendered (it would clear
	// the field on the Django side).
	_, err := format.Marshal(struct {
		Note drf.Optional[string] `json:"note"`
	}{})
	assert.ErrorIs(t, err, drf.ErrAbsentRendered)
}

func TestValidateNamesFields(t *testing.T) {
	var m order
	require.NoError(t, format.Unmarshal([]byte(`{"total":"123456789.1","tip":"1234"}`), &m))
	err := drf.Validate(&m)
	require.Error(t, err)
	assert.ErrorIs(t, err, drf.ErrInvalid)
	var e *drf.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "total", e.Field)
	assert.Equal(t, drf.CodeMaxWholeDigits, e.Code)
	assert.Contains(t, err.Error(), "tip: Ensure that there are no more than 3 digits before the decimal point.")

	bad := struct {
		N int `drf:"max_digits=3"`
	}{}
	err = drf.Validate(&bad)
	require.Error(t, err)
	assert.NotErrorIs(t, err, drf.ErrInvalid, "a misplaced tag is a programming error")
	assert.Error(t, drf.Validate(&struct {
		D drf.Decimal `drf:"digits=3"`
	}{}))
	assert.Error(t, drf.Validate(m))
}

// msgpack carries a message as its JSON form: the same values arrive.
func TestMsgpackCarriesTheSameValues(t *testing.T) {
	in := sampleOrder(t)
	in.Tip = drf.Some(drf.Decimal{})
	msg, err := format.Marshal(in)
	require.NoError(t, err)
	value, err := format.Render(format.Msgpack{}, &format.Envelope{Type: "order", Version: 1, Message: msg})
	require.NoError(t, err)
	env, err := format.Parse(value)
	require.NoError(t, err)
	var out order
	require.NoError(t, format.Unmarshal(env.Message, &out))
	require.NoError(t, drf.Validate(&out))
	assert.Equal(t, in.Total.String(), out.Total.String())
	assert.True(t, in.Placed.Equal(out.Placed.Time))
	assert.Equal(t, in.Day, out.Day)
	assert.Equal(t, in.Opens, out.Opens)
	assert.Equal(t, in.Took, out.Took)
	assert.True(t, out.Note.IsNull())
	assert.True(t, out.Shipped.IsAbsent())
	tip, ok := out.Tip.Get()
	assert.True(t, ok)
	assert.Equal(t, "0.00", tip.String())
	assert.Equal(t, in.Data.String(), out.Data.String(), "keys keep their order")
}

func TestDateTimeInZone(t *testing.T) {
	withZone(t, "America/New_York")
	v, err := drf.ParseDateTime("2021-11-07T01:30:00")
	require.NoError(t, err)
	assert.Equal(t, "2021-11-07T01:30:00-04:00", v.String(), "the first of the repeated hour, as fold=0")
	v, err = drf.ParseDateTime("1850-06-01T12:00:00")
	require.NoError(t, err)
	assert.Equal(t, "1850-06-01T12:00:00-04:56:02", v.String(), "local mean time before 1883")
}

func TestDecimalKeepsNegativeZeroAndRounds(t *testing.T) {
	d, err := drf.ParseDecimal("-0")
	require.NoError(t, err)
	require.NoError(t, d.Check(5, 2))
	assert.Equal(t, "-0.00", d.String())
	d, err = drf.NewDecimal(decimal.RequireFromString("0.125"), 5, 2)
	require.NoError(t, err)
	assert.Equal(t, "0.12", d.String(), "half to even")
	_, err = drf.NewDecimal(decimal.RequireFromString("1234.5"), 5, 2)
	assert.ErrorIs(t, err, drf.ErrInvalid)
	var z drf.Decimal
	assert.Equal(t, "0", z.String())
	assert.True(t, z.IsZero())
}
