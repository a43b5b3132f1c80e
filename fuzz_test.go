package logpipe

import (
	"errors"
	"reflect"
	"testing"

	"github.com/logpipe-go/logpipe/backend"
)

// FuzzParse feeds arbitrary record values through the consumer's decoding
// steps: nothing may panic, and every failure must be a *RecordError of one
// of the documented kinds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`json:{"type":"row","version":1,"message":{"uuid":"x"}}`,
		`json:{"type":"row","version":1.0,"message":null}`,
		`json:{"type":null,"version":"1","message":[]}`,
		"msgpack:\x83\xa4type\xa3row\xa7version\x01\xa7message\x81\xa4uuid\xa1x",
		"msgpack:\xdf\xff\xff\xff\xff",
		"", "json:", "pickle:\x80\x04N.",
	} {
		f.Add([]byte(s))
	}
	d := &dispatcher{types: map[string]map[int]reflect.Type{"row": {1: reflect.TypeOf(row{})}}, ignored: map[string]bool{"skip": true}}
	kinds := []error{ErrInvalidMessage, ErrIgnoredType, ErrUnknownType, ErrUnknownVersion, ErrValidation}
	f.Fuzz(func(t *testing.T, value []byte) {
		_, _, err := d.decode(backend.Record{Value: value})
		if err == nil {
			return
		}
		var re *RecordError
		if !errors.As(err, &re) {
			t.Fatalf("not a *RecordError: %v", err)
		}
		for _, k := range kinds {
			if errors.Is(err, k) {
				return
			}
		}
		t.Fatalf("undocumented kind: %v", err)
	})
}
