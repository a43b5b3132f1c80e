package format_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/logpipe-go/logpipe/format"
)

// pythonFloats reads testdata/floats.txt, written by testdata/floats.py in
// the django venv: each float and Python's json.dumps of it.
func pythonFloats(t testing.TB) map[float64]string {
	t.Helper()
	f, err := os.Open("testdata/floats.txt")
	require.NoError(t, err)
	defer f.Close()
	out := map[float64]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		bits, text, ok := strings.Cut(sc.Text(), " ")
		require.True(t, ok, sc.Text())
		b, err := hex.DecodeString(bits)
		require.NoError(t, err)
		out[math.Float64frombits(binary.BigEndian.Uint64(b))] = text
	}
	require.NoError(t, sc.Err())
	require.Greater(t, len(out), 5000)
	return out
}

// Every float renders byte for byte as Python's json (the original's
// renderer) writes it, alone, as a struct field, and inside a map or a
// slice of any.
func TestFloatsRenderLikePython(t *testing.T) {
	t.Parallel()
	type withFloat struct {
		F float64 `json:"f"`
		P *float64
	}
	for f, want := range pythonFloats(t) {
		if !assert.Equal(t, want, string(format.AppendFloat(nil, f, 64)), "%b", f) {
			continue
		}
		got, err := format.Marshal(withFloat{F: f, P: &f})
		require.NoError(t, err)
		assert.Equal(t, `{"f":`+want+`,"P":`+want+`}`, string(got))
		got, err = format.Marshal(map[string]any{"a": []any{f, "x"}})
		require.NoError(t, err)
		assert.Equal(t, `{"a":[`+want+`,"x"]}`, string(got))
		back, err := strconv.ParseFloat(want, 64)
		require.NoError(t, err)
		assert.Equal(t, math.Float64bits(f), math.Float64bits(back), "reads back as the same float")
	}
}

func TestFloatEdgeCases(t *testing.T) {
	t.Parallel()
	for f, want := range map[float64]string{
		2: "2.0", 1e-7: "1e-07", 1e16: "1e+16", math.Copysign(0, -1): "-0.0", 1e15: "1000000000000000.0",
		1.5e300: "1.5e+300", 0.0001: "0.0001", 1e-5: "1e-05", 5e-324: "5e-324", 123456789012345680: "1.2345678901234568e+17",
	} {
		assert.Equal(t, want, string(format.AppendFloat([]byte("x"), f, 64))[1:])
	}
	// float32: the shortest digits that read back as the same float32.
	got, err := format.Marshal(struct {
		A float32 `json:"a"`
		B float32 `json:"b"`
		C float32 `json:"c"`
	}{0.1, 3, 1e20})
	require.NoError(t, err)
	assert.Equal(t, `{"a":0.1,"b":3.0,"c":1e+20}`, string(got))
	// A float map key is a string with the same text, as Python writes it.
	got, err = format.Marshal(map[float64]int{2: 1})
	require.NoError(t, err)
	assert.Equal(t, `{"2.0":1}`, string(got))
	// Integers stay integers.
	got, err = format.Marshal(map[string]any{"i": 2, "u": uint8(3), "f": 2.0})
	require.NoError(t, err)
	assert.Equal(t, `{"f":2.0,"i":2,"u":3}`, string(got))
}

// NaN and infinities are an error, as they were with encoding/json (the
// original refuses to send them too: its renderer is strict).
func TestNonFiniteFloatsDoNotRender(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "NaNInfinity-Infinity", string(format.AppendFloat(format.AppendFloat(format.AppendFloat(nil,
		math.NaN(), 64), math.Inf(1), 64), math.Inf(-1), 64)), "AppendFloat writes what Python writes")
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := format.Marshal(struct{ F float64 }{f})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "unsupported value")
		_, err = format.Marshal([]any{float32(f)})
		assert.Error(t, err)
	}
}

// The original's "float" vector, rendered from Go float64 fields, is byte
// for byte what the original sent in json, and the same values of the same
// types in msgpack (2.0 travels as a msgpack float, not an integer).
func TestFloatVectorRendersByteIdentical(t *testing.T) {
	t.Parallel()
	type floats struct {
		Pi      float64 `json:"pi"`
		Tenth   float64 `json:"tenth"`
		Big     float64 `json:"big"`
		Tiny    float64 `json:"tiny"`
		NegZero float64 `json:"neg_zero"`
		Whole   float64 `json:"whole"`
	}
	n := 0
	for _, v := range loadVectors(t) {
		if v.Name != "float" {
			continue
		}
		var msg floats
		require.NoError(t, json.Unmarshal(v.Data, &msg))
		require.True(t, math.Signbit(msg.NegZero))
		body, err := format.Marshal(msg)
		require.NoError(t, err)
		codec, err := format.Lookup(v.Format)
		require.NoError(t, err)
		env := &format.Envelope{Type: v.Type, Version: v.Version, Message: body}
		if v.ProducerID != nil {
			env.Producer = *v.ProducerID
		}
		got, err := format.Render(codec, env)
		require.NoError(t, err)
		want, err := base64.StdEncoding.DecodeString(v.WireB64)
		require.NoError(t, err)
		if v.Format == "json" {
			assert.Equal(t, string(want), string(got))
		} else { // key order differs (Go maps); the values and their types do not
			var wantV, gotV map[string]any
			require.NoError(t, msgpack.Unmarshal(bytes.TrimPrefix(want, []byte("msgpack:")), &wantV))
			require.NoError(t, msgpack.Unmarshal(bytes.TrimPrefix(got, []byte("msgpack:")), &gotV))
			assert.Equal(t, wantV, gotV)
			assert.IsType(t, float64(0), gotV["message"].(map[string]any)["whole"])
		}
		n++
	}
	assert.Equal(t, 4, n)
}

// BenchmarkMarshal renders a struct with floats, strings and an integer,
// with format.Marshal and, for comparison, with encoding/json (which
// writes floats differently from the original).
func BenchmarkMarshal(b *testing.B) {
	type reading struct {
		ID      string            `json:"id"`
		Seq     int64             `json:"seq"`
		Temp    float64           `json:"temp"`
		Ratio   float32           `json:"ratio"`
		Samples []float64         `json:"samples"`
		Extra   map[string]any    `json:"extra"`
		Labels  map[string]string `json:"labels"`
	}
	v := reading{ID: "sensor-7", Seq: 123456, Temp: 21.5, Ratio: 0.25, Samples: []float64{1, 2.5, 1e-7, 3.14159, 1e16},
		Extra: map[string]any{"x": 0.1, "n": 3}, Labels: map[string]string{"room": "kitchen <1>"}}
	b.Run("format", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := format.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type node struct {
	Kids []node `json:"kids,omitempty"`
	V    float64
}

type wrapped struct{ inner }

type inner struct {
	W float32 `json:"w"`
}

// Floats are found at any depth: recursive types, embedded structs,
// interfaces, map keys; ",string" fields keep their quotes; an
// encoding/json.Number stays a number.
func TestMarshalFindsFloatsAnywhere(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    any
		want string
	}{
		{node{Kids: []node{{V: 2}}, V: 1}, `{"kids":[{"V":2.0}],"V":1.0}`},
		{wrapped{inner{W: 4}}, `{"w":4.0}`},
		{[]any{1, 1.0, "1"}, `[1,1.0,"1"]`},
		{map[string][]float32{"a": {1e-5}}, `{"a":[1e-05]}`},
		{struct {
			F float64     `json:"f,string"`
			N json.Number `json:"n"`
			E json.Number `json:"e"`
		}{F: 3, N: "1e5"}, `{"f":"3.0","n":1e5,"e":0}`},
	} {
		got, err := format.Marshal(c.v)
		require.NoError(t, err)
		assert.Equal(t, c.want, string(got))
	}
	_, err := format.Marshal(struct {
		F float64
		N json.Number
	}{N: "true"})
	assert.ErrorContains(t, err, "invalid number literal")
}
