package logpipe

import (
	"reflect"
	"testing"

	"github.com/logpipe-go/logpipe/backend"
)

// BenchmarkParseDispatch is the consumer's decoding of one record: split
// the format, parse the envelope, find the serializer for the type and
// version, decode and validate the message (no database).
func BenchmarkParseDispatch(b *testing.B) {
	d := &dispatcher{types: map[string]map[int]reflect.Type{"row": {1: reflect.TypeOf(row{})}}}
	for name, value := range map[string]string{
		"json":    `json:{"type":"row","version":1,"message":{"uuid":"9f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a01","first_name":"Joe","last_name":"Schmoe"},"producer":"bench"}`,
		"msgpack": "msgpack:\x84\xa4type\xa3row\xa7version\x01\xa7message\x83\xa4uuid\xd9\x249f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a01\xaafirst_name\xa3Joe\xa9last_name\xa6Schmoe\xa8producer\xa5bench",
	} {
		b.Run(name, func(b *testing.B) {
			rec := backend.Record{Value: []byte(value)}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := d.decode(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
