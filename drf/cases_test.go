package drf_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/format"
)

// drfCase is one row of testdata/drf_cases.json (see gen_drf_cases.py).
type drfCase struct {
	Zone          string   `json:"zone"`
	Input         string   `json:"input"`
	MaxDigits     int      `json:"max_digits"`
	DecimalPlaces int      `json:"decimal_places"`
	OK            bool     `json:"ok"`
	Render        string   `json:"render"`
	RenderError   string   `json:"render_error"`
	Codes         []string `json:"codes"`
	Messages      []string `json:"messages"`
	Crash         string   `json:"crash"`
}

type drfCases struct {
	Decimal       []drfCase `json:"decimal"`
	DateTime      []drfCase `json:"datetime"`
	Date          []drfCase `json:"date"`
	Time          []drfCase `json:"time"`
	Duration      []drfCase `json:"duration"`
	JSON          []drfCase `json:"json"`
	DecimalRender []struct {
		MaxDigits     int    `json:"max_digits"`
		DecimalPlaces int    `json:"decimal_places"`
		Value         string `json:"value"`
		Render        string `json:"render"`
	} `json:"decimal_render"`
	DateTimeRender []struct {
		Zone   string  `json:"zone"`
		Micros int64   `json:"micros"`
		Render *string `json:"render"`
	} `json:"datetime_render"`
	DurationRender []struct {
		Micros int64  `json:"micros"`
		Render string `json:"render"`
	} `json:"duration_render"`
}

func loadCases(t *testing.T) drfCases {
	t.Helper()
	data, err := os.ReadFile("testdata/drf_cases.json")
	require.NoError(t, err)
	var c drfCases
	require.NoError(t, json.Unmarshal(data, &c))
	require.NotEmpty(t, c.Decimal)
	return c
}

// decodeField decodes {"v": input} with the consumer's decoder into a
// struct whose field v has type T, and renders it back.
func decodeField[T any](input string) (T, error) {
	var msg struct {
		V T `json:"v"`
	}
	err := format.Unmarshal([]byte(`{"v":`+input+`}`), &msg)
	return msg.V, err
}

// checkCase asserts that decoding (and check, when given) matches DRF's
// verdict, and that an accepted value renders as DRF renders it.
func checkCase[T any](t *testing.T, c drfCase, check func(*T) error) {
	t.Helper()
	name := fmt.Sprintf("%s %s", c.Zone, c.Input)
	v, err := decodeField[T](c.Input)
	if err == nil && check != nil {
		err = check(&v)
	}
	if !c.OK {
		require.Error(t, err, "%s: DRF refuses it (%v %s)", name, c.Codes, c.Crash)
		assert.ErrorIs(t, err, drf.ErrInvalid, name)
		var e *drf.Error
		if assert.ErrorAs(t, err, &e, name) && len(c.Codes) > 0 {
			assert.Equal(t, c.Codes[0], e.Code, name)
			if e.Code != drf.CodeOverflow && e.Code != drf.CodeMaxDigits {
				assert.Equal(t, c.Messages[0], e.Message, name)
			}
		}
		return
	}
	require.NoError(t, err, "%s: DRF accepts it", name)
	out, err := format.Marshal(v)
	if c.RenderError != "" {
		assert.Error(t, err, "%s: DRF cannot render it (%s)", name, c.RenderError)
		return
	}
	require.NoError(t, err, name)
	assert.Equal(t, c.Render, string(out), name)
}

func withZone(t *testing.T, zone string) {
	t.Helper()
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	drf.SetTimeZone(loc)
	t.Cleanup(func() { drf.SetTimeZone(time.UTC) })
}

func TestDRFDecimalCases(t *testing.T) {
	for _, c := range loadCases(t).Decimal {
		checkCase(t, c, func(d *drf.Decimal) error { return d.Check(c.MaxDigits, c.DecimalPlaces) })
	}
}

func TestDRFDecimalRender(t *testing.T) {
	for _, c := range loadCases(t).DecimalRender {
		d, err := drf.NewDecimal(decimal.RequireFromString(c.Value), c.MaxDigits, c.DecimalPlaces)
		require.NoError(t, err)
		out, err := format.Marshal(d)
		require.NoError(t, err)
		if c.Value == "-0" { // decimal.Decimal has no negative zero; parse it instead
			d, err = drf.ParseDecimal(c.Value)
			require.NoError(t, err)
			require.NoError(t, d.Check(c.MaxDigits, c.DecimalPlaces))
			out, err = format.Marshal(d)
			require.NoError(t, err)
		}
		assert.Equal(t, c.Render, string(out), c.Value)
	}
}

func TestDRFDateTimeCases(t *testing.T) {
	for _, c := range loadCases(t).DateTime {
		withZone(t, c.Zone)
		if c.Crash != "" {
			// DRF itself fails with an uncaught exception; this refuses it.
			_, err := decodeField[drf.DateTime](c.Input)
			assert.ErrorIs(t, err, drf.ErrInvalid, c.Input)
			continue
		}
		if gapTime[c.Zone+" "+c.Input] {
			// A wall time skipped by a DST change: DRF echoes it with the
			// offset before the change, a time that never existed; this
			// renders the same instant as the valid local time.
			v, err := decodeField[drf.DateTime](c.Input)
			require.NoError(t, err)
			want, err := time.Parse(time.RFC3339, c.Render[1:len(c.Render)-1])
			require.NoError(t, err)
			assert.True(t, want.Equal(v.Time), "%s: %s is not %s", c.Input, v.Time, want)
			continue
		}
		checkCase[drf.DateTime](t, c, nil)
	}
}

var gapTime = map[string]bool{`America/New_York "2021-03-14T02:30:00"`: true}

func TestDRFDateTimeRender(t *testing.T) {
	for _, c := range loadCases(t).DateTimeRender {
		withZone(t, c.Zone)
		v := drf.NewDateTime(time.UnixMicro(c.Micros))
		out, err := format.Marshal(v)
		if c.Render == nil {
			assert.Error(t, err, "%s %d: out of range", c.Zone, c.Micros)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, *c.Render, string(out), "%s %d", c.Zone, c.Micros)
	}
}

func TestDRFDateCases(t *testing.T) {
	for _, c := range loadCases(t).Date {
		checkCase[drf.Date](t, c, nil)
	}
}

func TestDRFTimeCases(t *testing.T) {
	for _, c := range loadCases(t).Time {
		checkCase[drf.Time](t, c, nil)
	}
}

// Durations DRF accepts that do not fit a time.Duration.
var longDurations = map[string]bool{`"999999999 00:00:00"`: true, `"106752 00:00:00"`: true}

func TestDRFDurationCases(t *testing.T) {
	for _, c := range loadCases(t).Duration {
		if longDurations[c.Input] {
			_, err := decodeField[drf.Duration](c.Input)
			var e *drf.Error
			require.ErrorAs(t, err, &e, c.Input)
			assert.Equal(t, drf.CodeOverflow, e.Code)
			continue
		}
		checkCase[drf.Duration](t, c, nil)
	}
}

func TestDRFDurationRender(t *testing.T) {
	for _, c := range loadCases(t).DurationRender {
		out, err := format.Marshal(drf.Duration(c.Micros * 1000))
		require.NoError(t, err)
		assert.Equal(t, c.Render, string(out), c.Micros)
	}
}

func TestDRFJSONCases(t *testing.T) {
	for _, c := range loadCases(t).JSON {
		checkCase[drf.JSON](t, c, nil)
	}
}

func TestErrorIsTyped(t *testing.T) {
	var d drf.Decimal
	err := json.Unmarshal([]byte(`"abc"`), &d)
	var e *drf.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, drf.CodeInvalid, e.Code)
	assert.True(t, errors.Is(err, drf.ErrInvalid))
}
