package format_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/format"
)

// Python's json (the original's parser) allows space, tab, CR and LF
// around a document and between its tokens, and no other whitespace. The
// expectations were checked with the original's own path, json.load over
// codecs.getreader("utf-8"), in the django venv: every other character,
// even a leading BOM, is refused wherever it appears.
func TestJSONWhitespaceLikePython(t *testing.T) {
	t.Parallel()
	places := []string{
		`%s{"type":"a","version":1,"message":{"a":[1,2]}}`,
		`{"type":"a","version":1,"message":{"a":[1,2]}}%s`,
		`{%s"type":"a","version":1,"message":{"a":[1,2]}}`,
		`{"type"%s:"a","version":1,"message":{"a":[1,2]}}`,
		`{"type":%s"a","version":1,"message":{"a":[1,2]}}`,
		`{"type":"a","version":1,"message":{"a":[1,2]}%s}`,
		`{"type":"a","version":1,"message":{"a":[1%s,2]}}`,
	}
	allowed := []rune{' ', '\t', '\r', '\n'}
	refused := []rune{'\v', '\f', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680,
		0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff}
	for i, p := range places {
		for _, r := range allowed {
			_, err := format.Parse([]byte("json:" + fmt.Sprintf(p, strings.Repeat(string(r), 2))))
			assert.NoError(t, err, "place %d, %U", i, r)
		}
		for _, r := range refused {
			_, err := format.Parse([]byte("json:" + fmt.Sprintf(p, string(r))))
			assert.ErrorIs(t, err, format.ErrInvalidBody, "place %d, %U", i, r)
		}
	}
}

// msgpackEnvelope is a msgpack body with type "a", version 1, the given
// message (msgpack bytes) and extra (key and value bytes, appended).
func msgpackEnvelope(message string, extra ...string) []byte {
	head := "msgpack:" + string([]byte{byte(0x83 + len(extra)/2)})
	return []byte(head + "\xa4type\xa1a\xa7version\x01\xa7message" + message + strings.Join(extra, ""))
}

// Invalid UTF-8 in a msgpack str, as a key or a value at any depth, is an
// invalid body, as it is for the original (msgpack.unpackb with raw=False
// raises UnicodeDecodeError for each of these; checked in the django
// venv) and as the same bytes are in a json body.
func TestMsgpackInvalidUTF8IsInvalid(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"type value":        []byte("msgpack:\x83\xa4type\xa1\xff\xa7version\x01\xa7message\x80"),
		"message key":       msgpackEnvelope("\x81\xa2k\xff\xc0"),
		"deep value":        msgpackEnvelope("\x81\xa1k\x91\x81\xa1j\xa3\xed\xa0\x80"), // a surrogate half
		"str8 overlong":     msgpackEnvelope("\x81\xa1k\xd9\x02\xc0\xaf"),
		"str16 lone cont":   msgpackEnvelope("\x81\xa1k\xda\x00\x01\x80"),
		"str32 0xfe":        msgpackEnvelope("\x81\xa1k\xdb\x00\x00\x00\x01\xfe"),
		"beyond U+10FFFF":   msgpackEnvelope("\x81\xa1k\xa4\xf4\x90\x80\x80"),
		"truncated rune":    msgpackEnvelope("\x81\xa1k\xa2\xe2\x82"),
		"producer":          msgpackEnvelope("\x80", "\xa8producer", "\xa1\xff"),
		"unknown key":       msgpackEnvelope("\x80", "\xa2x\xff", "\xc0"),
		"unknown key value": msgpackEnvelope("\x80", "\xa1x", "\x91\xa1\xff"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := format.Parse(in)
			assert.ErrorIs(t, err, format.ErrInvalidBody)
			_, jerr := format.Parse([]byte("json:{\"type\":\"a\",\"version\":1,\"message\":{\"k\":\"\xff\"}}"))
			assert.ErrorIs(t, jerr, format.ErrInvalidBody, "the json path refuses the same")
		})
	}
	// Valid text at any length passes through unchanged, and bin (bytes,
	// not text) is not held to UTF-8.
	env, err := format.Parse(msgpackEnvelope("\x82\xa1k\xd9\x0ah\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xa1b\xc4\x01\xff"))
	if assert.NoError(t, err) {
		assert.JSONEq(t, `{"k":"hé€😀","b":"/w=="}`, string(env.Message))
	}
}

// msgpack map keys and values follow the original's unpacker
// (msgpack.unpack with raw=False and strict_map_key=True; each checked in
// the django venv).
func TestMsgpackKeysAndValuesLikeTheOriginal(t *testing.T) {
	t.Parallel()
	// Python refuses a nil or an integer key, at any depth.
	for name, in := range map[string][]byte{
		"nil key":        msgpackEnvelope("\x81\xc0\x01"),
		"int key nested": msgpackEnvelope("\x81\xa1k\x81\x01\x01"),
		"map key":        msgpackEnvelope("\x81\x80\x01"),
		"nil top key":    []byte("msgpack:\x84\xa4type\xa1a\xa7version\x01\xa7message\x80\xc0\x01"),
	} {
		_, err := format.Parse(in)
		assert.ErrorIs(t, err, format.ErrInvalidBody, name)
	}
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		// A bin key is bytes to Python: it matches no str field.
		"bin key":          {msgpackEnvelope("\x82\xc4\x01k\x01\xa1j\x02"), `{"j":2}`},
		"bin key not text": {msgpackEnvelope("\x82\xa1j\x02\xc4\x01\xff\x01"), `{"j":2}`},
		"timestamp":        {msgpackEnvelope("\x81\xa1t\xd6\xff\x00\x00\x00\x01"), `{"t":"1970-01-01T00:00:01Z"}`},
		"timestamp 96":     {msgpackEnvelope("\x81\xa1t\xc7\x0c\xff\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x02"), `{"t":"1970-01-01T00:00:02.000000005Z"}`},
		// Python reads a float32 as the double of the same value.
		"float32": {msgpackEnvelope("\x81\xa1f\xca\x3d\xcc\xcc\xcd"), `{"f":0.10000000149011612}`},
		"float64": {msgpackEnvelope("\x81\xa1f\xcb\x40\x00\x00\x00\x00\x00\x00\x00"), `{"f":2.0}`},
		"ints":    {msgpackEnvelope("\x94\xd3\x80\x00\x00\x00\x00\x00\x00\x00\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xd0\x80\xe0"), `[-9223372036854775808,18446744073709551615,-128,-32]`},
		"escapes": {msgpackEnvelope("\x81\xa1s\xa8\"\\\n\x01\xe2\x80\xa8<"), `{"s":"\"\\\n\u0001\u2028<"}`},
		// A later key replaces an earlier one, as in a Python dict.
		"dup message": {[]byte("msgpack:\x84\xa4type\xa1a\xa7version\x01\xa7message\x81\xa1a\x01\xa7message\x81\xa1b\x02"), `{"b":2}`},
	} {
		env, err := format.Parse(c.in)
		if assert.NoError(t, err, name) {
			assert.Equal(t, c.want, string(env.Message), name)
		}
	}
	// Values JSON cannot hold: the envelope decodes, the message is
	// unrepresentable (and fails validation); in another field, null.
	for name, in := range map[string][]byte{
		"NaN":          msgpackEnvelope("\x81\xa1f\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
		"-Inf float32": msgpackEnvelope("\x81\xa1f\xca\xff\x80\x00\x00"),
		"ext type 5":   msgpackEnvelope("\x81\xa1t\xd4\x05\x00"),
	} {
		env, err := format.Parse(in)
		if assert.NoError(t, err, name) {
			assert.Nil(t, env.Message, name)
			assert.Equal(t, "a", env.Type)
		}
	}
	env, err := format.Parse([]byte("msgpack:\x83\xa4type\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\xa7version\x01\xa7message\x80"))
	require.NoError(t, err)
	assert.False(t, env.TypeIsString)
	assert.Equal(t, "null", env.Type)
}
