package format_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/format"
)

type vector struct {
	Name       string          `json:"name"`
	Format     string          `json:"format"`
	ProducerID *string         `json:"producer_id"`
	Type       string          `json:"type"`
	Version    int             `json:"version"`
	Data       json.RawMessage `json:"serializer_data"`
	WireB64    string          `json:"wire_b64"`
	Error      string          `json:"error"`
	Via        string          `json:"via"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("../testdata/interop/vectors.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v vector
		// Python's json writes NaN and Infinity, which JSON lacks.
		line := strings.NewReplacer(": NaN", `: "NaN"`, ": Infinity", `: "Infinity"`, ": -Infinity", `: "-Infinity"`).Replace(sc.Text())
		require.NoError(t, json.Unmarshal([]byte(line), &v))
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}

// reencode renders Python-written JSON (ASCII-escaped, spaced) as compact
// JSON in the same key order, with strings written the way format writes
// them: what a Go struct with the same fields in the same order renders.
func reencode(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []byte
	type frame struct{ obj, first, key bool }
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			_, closing := tok.(json.Delim)
			closing = closing && (tok == json.Delim('}') || tok == json.Delim(']'))
			if !closing {
				if top.obj && !top.key {
					if !top.first {
						out = append(out, ',')
					}
				} else if !top.obj && !top.first {
					out = append(out, ',')
				}
				top.first = false
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				out = append(out, byte(v))
				stack = append(stack, frame{obj: v == '{', first: true, key: false})
				continue
			default:
				out = append(out, byte(v))
				stack = stack[:len(stack)-1]
			}
		case string:
			out = format.AppendString(out, v)
		case json.Number:
			out = append(out, v...)
		case bool:
			if v {
				out = append(out, "true"...)
			} else {
				out = append(out, "false"...)
			}
		case nil:
			out = append(out, "null"...)
		}
		if n := len(stack); n > 0 && stack[n-1].obj {
			top := &stack[n-1]
			if _, isKey := tok.(string); isKey && !top.key {
				out = append(out, ':')
				top.key = true
				top.first = true // no comma before the value
				continue
			}
			top.key = false
		}
	}
	return out
}

// wireMessages returns, per vector name, the message as the original put it
// on the wire in JSON. (serializer_data holds Python reprs for values the
// JSON file could not hold, so the wire is the reference.)
func wireMessages(t *testing.T, vs []vector) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for _, v := range vs {
		if v.Format != "json" || v.Error != "" || v.Type == "" {
			continue
		}
		wire, err := base64.StdEncoding.DecodeString(v.WireB64)
		require.NoError(t, err)
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(bytes.TrimPrefix(wire, []byte("json:")), &fields))
		out[v.Name] = fields["message"]
	}
	return out
}

func TestVectorsRenderJSONByteIdentical(t *testing.T) {
	t.Parallel()
	n := 0
	vs := loadVectors(t)
	msgs := wireMessages(t, vs)
	for _, v := range vs {
		if v.Format != "json" || v.Error != "" || v.Type == "" {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			want, err := base64.StdEncoding.DecodeString(v.WireB64)
			require.NoError(t, err)
			env := &format.Envelope{Type: v.Type, Version: v.Version, Message: reencode(t, msgs[v.Name])}
			if v.ProducerID != nil {
				env.Producer = *v.ProducerID
			}
			got, err := format.Render(format.JSON{}, env)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
		n++
	}
	assert.GreaterOrEqual(t, n, 30)
}

func TestVectorsParse(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	msgs := wireMessages(t, vs)
	for _, v := range vs {
		if v.Error != "" || v.Type == "" {
			continue
		}
		t.Run(v.Format+"/"+v.Name, func(t *testing.T) {
			wire, err := base64.StdEncoding.DecodeString(v.WireB64)
			require.NoError(t, err)
			env, err := format.Parse(wire)
			require.NoError(t, err)
			assert.Equal(t, v.Type, env.Type)
			assert.True(t, env.TypeIsString)
			assert.True(t, env.VersionIsInt)
			assert.Equal(t, v.Version, env.Version)
			if v.ProducerID != nil {
				assert.Equal(t, *v.ProducerID, env.Producer)
			} else {
				assert.Empty(t, env.Producer)
			}
			if bytes.Contains(v.Data, []byte("NaN")) || bytes.Contains(v.Data, []byte("Infinity")) {
				assert.Nil(t, env.Message, "JSON cannot hold a non-finite float")
				return
			}
			want, ok := msgs[v.Name]
			if !ok { // not sendable as JSON (a Python object msgpack could hold)
				want = v.Data
			}
			assert.JSONEq(t, string(want), string(env.Message))
		})
	}
}

// The msgpack that format renders decodes to the same values as the
// original's, and is byte-identical where key order cannot differ.
func TestVectorsRenderMsgpack(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	msgs := wireMessages(t, vs)
	for _, v := range vs {
		if v.Format != "msgpack" || v.Error != "" || v.Type == "" || bytes.Contains(v.Data, []byte("NaN")) || bytes.Contains(v.Data, []byte("Infinity")) {
			continue
		}
		msg, ok := msgs[v.Name]
		if !ok {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			env := &format.Envelope{Type: v.Type, Version: v.Version, Message: reencode(t, msg)}
			if v.ProducerID != nil {
				env.Producer = *v.ProducerID
			}
			got, err := format.Render(format.Msgpack{}, env)
			require.NoError(t, err)
			back, err := format.Parse(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(msg), string(back.Message))
			want, _ := base64.StdEncoding.DecodeString(v.WireB64)
			// Python bytes travel as msgpack bin; Go sends text.
			if v.Name != "bytes_value" && !bytes.Contains(msg[1:], []byte("{")) && bytes.Count(msg, []byte(":")) <= 1 {
				assert.Equal(t, want, got, "a one-key message renders byte-identical")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in   string
		want error
	}{
		"no colon":        {"hello", format.ErrUnknownFormat},
		"empty":           {"", format.ErrUnknownFormat},
		"unknown code":    {"xml:<a/>", format.ErrUnknownFormat},
		"uppercase":       {`JSON:{}`, format.ErrUnknownFormat},
		"pickle":          {"pickle:\x80\x04N.", format.ErrUnknownFormat},
		"bad json":        {`json:{"type":`, format.ErrInvalidBody},
		"trailing":        {`json:{"type":"a","version":1,"message":{}}x`, format.ErrInvalidBody},
		"array":           {`json:[1,2]`, format.ErrInvalidBody},
		"null":            {`json:null`, format.ErrInvalidBody},
		"nan":             {`json:{"type":"a","version":1,"message":{},"x":NaN}`, format.ErrInvalidBody},
		"bad utf8":        {"json:{\"type\":\"\xff\",\"version\":1,\"message\":{}}", format.ErrInvalidBody},
		"missing message": {`json:{"type":"a","version":1}`, format.ErrMissingField},
		"case of keys":    {`json:{"TYPE":"a","version":1,"message":{}}`, format.ErrMissingField},
		"msgpack garbage": {"msgpack:\xc1", format.ErrInvalidBody},
		"msgpack nil":     {"msgpack:\xc0", format.ErrInvalidBody},
		"msgpack int key": {"msgpack:\x81\x01\x01", format.ErrInvalidBody},
		"msgpack extra":   {"msgpack:\x80\x00", format.ErrInvalidBody},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := format.Parse([]byte(c.in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, c.want), "got %v", err)
		})
	}
}

func TestParseVersions(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		v  int
		ok bool
	}{`1`: {1, true}, `1.0`: {1, true}, `"1"`: {0, false}, `1.5`: {0, false}, `true`: {0, false}, `1e300`: {0, false}} {
		env, err := format.Parse([]byte(`json:{"type":"a","version":` + in + `,"message":{}}`))
		require.NoError(t, err)
		assert.Equal(t, want.ok, env.VersionIsInt, in)
		assert.Equal(t, want.v, env.Version, in)
		assert.Equal(t, in, env.VersionText)
	}
}

func TestRenderEscapesLikeTheOriginal(t *testing.T) {
	t.Parallel()
	msg, err := format.Marshal(map[string]string{"s": "<a href=\"x\">&</a>\u2028\t"})
	require.NoError(t, err)
	got, err := format.Render(format.JSON{}, &format.Envelope{Type: "t<", Version: 2, Message: msg, Producer: "p&"})
	require.NoError(t, err)
	assert.Equal(t, `json:{"type":"t<","version":2,"message":{"s":"<a href=\"x\">&</a>\u2028\t"},"producer":"p&"}`, string(got))
}

func FuzzParseBody(f *testing.F) {
	for _, s := range []string{`json:{"type":"a","version":1,"message":{}}`, "msgpack:\x83\xa4type\xa1a\xa7version\x01\xa7message\x80", "msgpack:\xdf\xff\xff\xff\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := format.Parse(b)
		if err == nil && env.Message != nil && !json.Valid(env.Message) {
			t.Fatalf("invalid message JSON %q", env.Message)
		}
	})
}

// Nesting deeper than MaxDepth is an invalid body, in both formats, and
// fails fast instead of recursing (a million nested msgpack arrays used to
// overflow the stack).
func TestDeepNestingIsInvalid(t *testing.T) {
	t.Parallel()
	deep := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	_, err := format.Parse([]byte(`json:{"type":"a","version":1,"message":{"k":` + deep("[", "]", format.MaxDepth) + `}}`))
	assert.ErrorIs(t, err, format.ErrInvalidBody)
	env, err := format.Parse([]byte(`json:{"type":"a","version":1,"message":{"k":` + deep("[", "]", 100) + `,"s":"[[[["}}`))
	require.NoError(t, err, "brackets inside strings do not count")
	assert.NotEmpty(t, env.Message)

	head := "msgpack:\x83\xa4type\xa1a\xa7version\x01\xa7message"
	_, err = format.Parse([]byte(head + strings.Repeat("\x91", 1_000_000) + "\xc0"))
	assert.ErrorIs(t, err, format.ErrInvalidBody)
	_, err = format.Parse([]byte(head + strings.Repeat("\x91", 50) + "\xc0"))
	assert.NoError(t, err)
}

// Message fields match struct fields exactly, as DRF matches them.
func TestUnmarshalMatchesKeysExactly(t *testing.T) {
	t.Parallel()
	var v struct {
		FirstName string `json:"first_name"`
	}
	require.NoError(t, format.Unmarshal([]byte(`{"First_Name":"x"}`), &v))
	assert.Empty(t, v.FirstName)
	require.NoError(t, format.Unmarshal([]byte(`{"first_name":"y"}`), &v))
	assert.Equal(t, "y", v.FirstName)
	assert.Error(t, format.Unmarshal([]byte(`{"first_name":"y"} x`), &v))
}
