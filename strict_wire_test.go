package logpipe

import (
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
)

// Bytes that are not UTF-8 make a record an invalid message in msgpack as
// in json, wherever they are; before, msgpack turned them into U+FFFD and
// the record was applied.
func TestInvalidUTF8IsAnInvalidMessageInBothFormats(t *testing.T) {
	t.Parallel()
	d := &dispatcher{types: map[string]map[int]reflect.Type{"row": {1: reflect.TypeOf(row{})}}}
	for name, value := range map[string]string{
		"json value":    "json:{\"type\":\"row\",\"version\":1,\"message\":{\"uuid\":\"a\xffb\"}}",
		"msgpack value": "msgpack:\x83\xa4type\xa3row\xa7version\x01\xa7message\x81\xa4uuid\xa3a\xffb",
		"msgpack key":   "msgpack:\x83\xa4type\xa3row\xa7version\x01\xa7message\x82\xa4uuid\xa1a\xa2\xc3(\xc0",
		"msgpack type":  "msgpack:\x83\xa4type\xa3r\xffw\xa7version\x01\xa7message\x81\xa4uuid\xa1a",
	} {
		_, _, err := d.decode(backend.Record{Value: []byte(value)})
		require.Error(t, err, name)
		assert.ErrorIs(t, err, ErrInvalidMessage, name)
	}
	s, _, err := d.decode(backend.Record{Value: []byte("msgpack:\x83\xa4type\xa3row\xa7version\x01\xa7message\x81\xa4uuid\xa4a\xc3\xa9b")})
	require.NoError(t, err)
	assert.Equal(t, "aéb", s.(*row).UUID)
}

// The consumer's whole decoding of a record (parse, transcode, decode into
// the serializer) allocates a small multiple of the record's size, even
// for a msgpack record of 100,000 nils or empty maps.
func TestDecodeMemoryIsBounded(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	d := &dispatcher{types: map[string]map[int]reflect.Type{"row": {1: reflect.TypeOf(row{})}}}
	head := "msgpack:\x83\xa4type\xa3row\xa7version\x01\xa7message\x82\xa4uuid\xa1x\xa1k\xdd\x00\x01\x86\xa0"
	for name, value := range map[string][]byte{
		"nils":       []byte(head + strings.Repeat("\xc0", 100_000)),
		"empty maps": []byte(head + strings.Repeat("\x80", 100_000)),
		"json nils":  []byte(`json:{"type":"row","version":1,"message":{"uuid":"x","k":[` + strings.Repeat("null,", 100_000) + `null]}}`),
	} {
		rec := backend.Record{Value: value}
		least := uint64(math.MaxUint64) // the least of a few runs: other goroutines may allocate meanwhile
		for range 3 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s, _, err := d.decode(rec)
			runtime.ReadMemStats(&after)
			require.NoError(t, err, name)
			assert.Equal(t, "x", s.(*row).UUID)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		perByte := float64(least) / float64(len(value))
		t.Logf("%s: %.1f bytes allocated per byte", name, perByte)
		assert.Less(t, perByte, 6.5, name)
	}
}
