package format_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/logpipe-go/logpipe/format"
)

// fuzzMessage is a serializer with the field types messages typically
// have.
type fuzzMessage struct {
	UUID   uuid.UUID      `json:"uuid"`
	Name   string         `json:"name"`
	Email  *string        `json:"email"`
	Age    int            `json:"age"`
	Big    uint64         `json:"big"`
	Score  float64        `json:"score"`
	Ratio  float32        `json:"ratio"`
	Active bool           `json:"active"`
	Tags   []string       `json:"tags"`
	Born   time.Time      `json:"born"`
	Extra  map[string]any `json:"extra"`
	Nested *struct {
		N int64   `json:"n"`
		F float64 `json:"f"`
	} `json:"nested"`
}

// wireSeeds returns the bodies of the original's vectors and bad inputs
// in the given format.
func wireSeeds(tb testing.TB, code string) [][]byte {
	var out [][]byte
	for _, file := range []string{"vectors.jsonl", "bad-inputs.jsonl"} {
		f, err := os.Open("../testdata/interop/" + file)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var v struct {
				Wire  string `json:"wire_b64"`
				Value string `json:"value_b64"`
			}
			// Python writes NaN, which encoding/json refuses; such lines
			// have no wire anyway.
			if json.Unmarshal(sc.Bytes(), &v) != nil {
				continue
			}
			wire, _ := base64.StdEncoding.DecodeString(v.Wire + v.Value)
			if body, ok := bytes.CutPrefix(wire, []byte(code+":")); ok {
				out = append(out, body)
			}
		}
		f.Close()
	}
	return out
}

// fuzzDecode checks a record value the way a consumer reads it: parse
// the envelope, decode the message into a serializer; then render what
// was decoded and decode that again, which must give the same rendering.
func fuzzDecode(t *testing.T, value []byte, bodyLen int, msgpack bool) {
	env, err := format.Parse(value)
	if err != nil {
		if !errors.Is(err, format.ErrInvalidBody) && !errors.Is(err, format.ErrMissingField) {
			t.Fatalf("undocumented error: %v", err)
		}
		if len(err.Error()) > 1000 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
		return
	}
	if env.Message == nil {
		return // unrepresentable (a msgpack NaN)
	}
	if !json.Valid(env.Message) {
		t.Fatalf("invalid message JSON %q", env.Message)
	}
	if msgpack && len(env.Message) > 6*bodyLen+64 {
		t.Fatalf("a body of %d bytes made a message of %d", bodyLen, len(env.Message))
	}
	var m fuzzMessage
	if format.Unmarshal(env.Message, &m) != nil {
		return
	}
	out, err := format.Marshal(m)
	if err != nil {
		t.Fatalf("a decoded message does not render: %v", err)
	}
	var again fuzzMessage
	if err := format.Unmarshal(out, &again); err != nil {
		t.Fatalf("a rendered message does not decode: %v\n%s", err, out)
	}
	out2, err := format.Marshal(again)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("rendering is not stable: %v\n%s\n%s", err, out, out2)
	}
}

// FuzzDecodeJSON feeds json bodies through parsing and decoding into a
// serializer.
func FuzzDecodeJSON(f *testing.F) {
	for _, b := range wireSeeds(f, "json") {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"a","version":1,"message":{"score":2.0,"ratio":1e-07,"extra":{"x":[1,-0.0,1e+16]},"born":"2024-02-03T04:05:06.7+01:00","nested":{"n":-1,"f":5e-324}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzDecode(t, append([]byte("json:"), body...), len(body), false)
	})
}

// FuzzDecodeMsgpack feeds msgpack bodies through parsing (transcoding to
// JSON, in bounded memory) and decoding into a serializer.
func FuzzDecodeMsgpack(f *testing.F) {
	for _, b := range wireSeeds(f, "msgpack") {
		f.Add(b)
	}
	f.Add([]byte("\x83\xa4type\xa1a\xa7version\x01\xa7message\x84\xa5score\xcb\x40\x00\x00\x00\x00\x00\x00\x00\xa5ratio\xca\x3d\xcc\xcc\xcd\xa4tags\x92\xa1x\xc4\x01y\xa5extra\x81\xa1t\xd6\xff\x00\x00\x00\x01"))
	f.Add([]byte("\x83\xa4type\xa1a\xa7version\x01\xa7message\x81\xa1k\xdc\x00\x03\xc0\x80\x90"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzDecode(t, append([]byte("msgpack:"), body...), len(body), true)
	})
}

// FuzzRender renders a message built from arbitrary values, in both
// formats, and reads it back: the same values come out. Floats render as
// Python writes them and read back as the same float.
func FuzzRender(f *testing.F) {
	f.Add("Joe", "x@y", int64(42), uint64(1<<63), 2.0, float32(0.1), true, int64(1700000000), int64(5), "k", 1e-7)
	f.Add("\u2028<&>\"\\\x00", "", int64(-1), uint64(0), math.Copysign(0, -1), float32(1e20), false, int64(-62135596800), int64(999999999), "", 1e16)
	f.Fuzz(func(t *testing.T, name, email string, age int64, big uint64, score float64, ratio float32, active bool, sec, nsec int64, key string, x float64) {
		for _, g := range []float64{score, float64(ratio), x} {
			if math.IsNaN(g) || math.IsInf(g, 0) {
				if _, err := format.Marshal(fuzzMessage{Score: g}); err == nil {
					t.Fatalf("%v rendered", g)
				}
				return
			}
		}
		text := format.AppendFloat(nil, score, 64)
		if back, err := strconv.ParseFloat(string(text), 64); err != nil || math.Float64bits(back) != math.Float64bits(score) {
			t.Fatalf("%v renders %s, which reads back as %v (%v)", score, text, back, err)
		}
		born := time.Unix(sec%(253402300799+62135596800)-62135596800, nsec%1e9).UTC()
		if born.Year() < 0 || born.Year() > 9999 {
			return
		}
		name, email, key = strings.ToValidUTF8(name, "?"), strings.ToValidUTF8(email, "?"), strings.ToValidUTF8(key, "?")
		in := fuzzMessage{
			UUID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(name)), Name: name, Email: &email, Age: int(age), Big: big,
			Score: score, Ratio: ratio, Active: active, Tags: []string{name, key}, Born: born,
			Extra: map[string]any{key: x, "s": name, "l": []any{x, true, nil}},
		}
		in.Nested = &struct {
			N int64   `json:"n"`
			F float64 `json:"f"`
		}{age, x}
		body, err := format.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, codec := range []format.Codec{format.JSON{}, format.Msgpack{}} {
			value, err := format.Render(codec, &format.Envelope{Type: name, Version: int(int32(age)), Message: body, Producer: email})
			if err != nil {
				t.Fatal(err)
			}
			env, err := format.Parse(value)
			if err != nil {
				t.Fatalf("%s: %v", codec.Code(), err)
			}
			if env.Type != name || env.Version != int(int32(age)) || env.Producer != email {
				t.Fatalf("%s: envelope %+v", codec.Code(), env)
			}
			var out fuzzMessage
			if err := format.Unmarshal(env.Message, &out); err != nil {
				t.Fatalf("%s: %v\n%s", codec.Code(), err, env.Message)
			}
			again, err := format.Marshal(out)
			if err != nil || !bytes.Equal(body, again) {
				t.Fatalf("%s: %v\n%s\n%s", codec.Code(), err, body, again)
			}
			if math.Float64bits(out.Score) != math.Float64bits(score) || out.Ratio != ratio {
				t.Fatalf("%s: floats %v %v became %v %v", codec.Code(), score, ratio, out.Score, out.Ratio)
			}
		}
	})
}
