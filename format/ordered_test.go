package format

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// A message's objects keep their keys' order through msgpack, both ways.
func TestMsgpackKeepsKeyOrder(t *testing.T) {
	msg := json.RawMessage(`{"z":1,"a":{"y":[{"k":true,"b":null}],"b":"x"},"m":-2.5}`)
	value, err := Render(Msgpack{}, &Envelope{Type: "t", Version: 1, Message: msg})
	require.NoError(t, err)

	// On the wire: the keys in their order (as Python's msgpack reads them).
	var inner struct {
		Message msgpack.RawMessage `msgpack:"message"`
	}
	require.NoError(t, msgpack.Unmarshal(value[len("msgpack:"):], &inner))
	dec := msgpack.NewDecoder(bytes.NewReader(inner.Message))
	n, err := dec.DecodeMapLen()
	require.NoError(t, err)
	var keys []string
	for i := 0; i < n; i++ {
		k, err := dec.DecodeString()
		require.NoError(t, err)
		keys = append(keys, k)
		require.NoError(t, dec.Skip())
	}
	assert.Equal(t, []string{"z", "a", "m"}, keys)

	// Back: the same JSON text.
	env, err := Parse(value)
	require.NoError(t, err)
	assert.Equal(t, string(msg), string(env.Message))
}

// Floats stay floats through msgpack (Python's 1.0 is not 1), written as
// Python writes them.
func TestMsgpackKeepsFloats(t *testing.T) {
	msg := json.RawMessage(`{"f":1.0,"i":1,"n":-0.0,"e":1e+16,"s":0.5}`)
	value, err := Render(Msgpack{}, &Envelope{Type: "t", Version: 1, Message: msg})
	require.NoError(t, err)
	env, err := Parse(value)
	require.NoError(t, err)
	assert.Equal(t, string(msg), string(env.Message))
}

// Many keys, some repeated: first position, last value, in linear time.
func TestOrderedMapManyKeys(t *testing.T) {
	m := &orderedMap{}
	for i := 0; i < 100000; i++ {
		m.set(string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26)), i)
	}
	assert.Len(t, m.keys, 17576)
	assert.Equal(t, "aaa", m.keys[0])
	assert.Equal(t, 87880, m.vals[0])
}
