package format_test

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/format"
)

// costlyMsgpack returns records that decoders into Go values turn into
// many times their size: (name, record).
func costlyMsgpack() map[string][]byte {
	const n = 100_000
	array := func(item string) string { // array 32 of n items
		return "\xdd\x00\x01\x86\xa0" + strings.Repeat(item, n)
	}
	return map[string][]byte{
		"nils":           msgpackEnvelope("\x81\xa1k" + array("\xc0")),
		"empty maps":     msgpackEnvelope("\x81\xa1k" + array("\x80")),
		"empty arrays":   msgpackEnvelope("\x81\xa1k" + array("\x90")),
		"small ints":     msgpackEnvelope("\x81\xa1k" + array("\xe0")),
		"control chars":  msgpackEnvelope("\x81\xa1k" + array("\xa1\x01")),
		"control string": msgpackEnvelope("\x81\xa1k\xdb\x00\x01\x86\xa0" + strings.Repeat("\x01", n)),
		"keys to maps":   msgpackEnvelope("\xdf\x00\x01\x86\xa0" + strings.Repeat("\xa0\x80", n)),
		"keys to nils":   msgpackEnvelope("\xdf\x00\x01\x86\xa0" + strings.Repeat("\xa0\xc0", n)),
		"unknown key":    msgpackEnvelope("\x80", "\xa1x", array("\x80")),
		"nested in maps": msgpackEnvelope("\x81\xa1k" + array("\x81\xa0\x80")),
	}
}

// allocatedPerByte returns the bytes format.Parse allocates per byte of
// value: the least of a few runs, as other goroutines may allocate
// meanwhile.
func allocatedPerByte(t *testing.T, value []byte) float64 {
	t.Helper()
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := format.Parse(value)
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return float64(least) / float64(len(value))
}

// A msgpack record cannot make the parser allocate more than a small
// multiple of its size: it is transcoded to JSON in one buffer, not decoded
// into Go values (a record of 100k nils used to take 30 times its size, of
// 100k empty maps 75 times).
func TestMsgpackParseMemoryIsBounded(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	for name, value := range costlyMsgpack() {
		perByte := allocatedPerByte(t, value)
		t.Logf("%s: %d bytes, %.1f bytes allocated per byte", name, len(value), perByte)
		assert.Less(t, perByte, 6.5, name) // a control character takes 6: \u0001
	}
	// The message is all there.
	env, err := format.Parse(costlyMsgpack()["nils"])
	require.NoError(t, err)
	assert.Equal(t, `{"k":[null`, string(env.Message[:10]))
	assert.Equal(t, 100_000, strings.Count(string(env.Message), "null"))
}

func BenchmarkParseMsgpackCostly(b *testing.B) {
	for name, value := range costlyMsgpack() {
		b.Run(strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			start := ms.TotalAlloc
			for b.Loop() {
				if _, err := format.Parse(value); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.TotalAlloc-start)/float64(b.N)/float64(len(value)), "alloc-B/in-B")
		})
	}
}
