package logpipe

import (
	"reflect"
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
