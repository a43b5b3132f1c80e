package format_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

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
