package drf_test

import (
	"encoding/json"
	"testing"

	"github.com/logpipe-go/logpipe/drf"
)

// No input makes a parser panic, and whatever a type accepts it renders,
// and reads back unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`"12.30"`, `1e2`, `"2020-01-02T03:04:05.5+01:00"`, `"2020-W01-2"`, `"03:04"`,
		`"1 02:03:04"`, `"P1DT2H"`, `{"b":[1.0,{"a":null}]}`, `"-0"`, `"1e16383"`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			d   drf.Decimal
			dt  drf.DateTime
			dd  drf.Date
			tt  drf.Time
			du  drf.Duration
			js  drf.JSON
			opt drf.Optional[drf.Decimal]
		)
		for _, v := range []interface {
			json.Unmarshaler
			json.Marshaler
		}{&d, &dt, &dd, &tt, &du, &js, &opt} {
			if v.UnmarshalJSON(data) != nil {
				continue
			}
			out, err := v.MarshalJSON()
			if err != nil {
				continue // such as a datetime out of range in this zone
			}
			if _, isJSON := v.(*drf.JSON); !isJSON && len(out) > 1002 {
				continue // DRF too refuses to read a decimal longer than 1000 characters
			}
			if v.UnmarshalJSON(out) != nil {
				t.Fatalf("%T: %.200q renders as %.200q, which does not parse", v, data, out)
			}
			again, err := v.MarshalJSON()
			if err != nil || string(again) != string(out) {
				t.Fatalf("%T: %.200q renders as %.200q, then %.200q", v, data, out, again)
			}
		}
		_ = d.Check(10, 2)
	})
}
