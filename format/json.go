package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	fastjson "github.com/segmentio/encoding/json"
)

// JSON is the "json" format: compact JSON, as the original's Django REST
// Framework renderer writes it (no spaces, UTF-8 text unescaped, no HTML
// escaping, U+2028 and U+2029 escaped).
type JSON struct{}

// Code returns "json".
func (JSON) Code() string { return "json" }

// AppendBody appends {"type":...,"version":...,"message":...,"producer":...}.
func (JSON) AppendBody(dst []byte, env *Envelope) ([]byte, error) {
	if len(env.Message) == 0 {
		return nil, fmt.Errorf("logpipe/format: envelope of type %q has no message", env.Type)
	}
	dst = append(dst, `{"type":`...)
	dst = AppendString(dst, env.Type)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(env.Version), 10)
	dst = append(dst, `,"message":`...)
	dst = append(dst, env.Message...)
	if env.Producer != "" {
		dst = append(dst, `,"producer":`...)
		dst = AppendString(dst, env.Producer)
	}
	return append(dst, '}'), nil
}

// ParseBody decodes a JSON object. Keys match exactly (encoding/json alone
// would match "TYPE" to "type"). Invalid UTF-8, NaN, trailing data and
// anything but an object are rejected, as the original's parser does.
func (JSON) ParseBody(body []byte) (Fields, error) {
	var f Fields
	if !utf8.Valid(body) {
		return f, fmt.Errorf("%w: json body is not valid UTF-8", ErrInvalidBody)
	}
	body = trimJSONSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return f, fmt.Errorf("%w: json body is not an object", ErrInvalidBody)
	}
	if len(body) > MaxDepth && jsonTooDeep(body) { // shorter bodies cannot nest that deep
		return f, fmt.Errorf("%w: json nests deeper than %d levels", ErrInvalidBody, MaxDepth)
	}
	// segmentio's decoder is a faster drop-in for encoding/json, and can
	// match keys exactly ("TYPE" is not "type").
	rest, err := fastjson.Parse(body, &f, fastjson.DontMatchCaseInsensitiveStructFields|fastjson.DontCopyRawMessage)
	if err != nil {
		return Fields{}, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	if len(trimJSONSpace(rest)) > 0 {
		return Fields{}, fmt.Errorf("%w: data after the json object", ErrInvalidBody)
	}
	return f, nil
}

// Unmarshal decodes a message into v like encoding/json.Unmarshal
// (Unmarshaler methods honoured), faster, except that object keys match
// struct fields exactly, as the original's serializers match them:
// "First_Name" does not fill a field tagged "first_name". Trailing data is
// an error.
func Unmarshal(data []byte, v any) error {
	rest, err := fastjson.Parse(data, v, fastjson.DontMatchCaseInsensitiveStructFields)
	if err != nil {
		return err
	}
	if len(trimJSONSpace(rest)) > 0 {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// trimJSONSpace trims the whitespace JSON allows around a value: space,
// tab, CR and LF, and nothing else (Python's json, and so the original,
// refuses NBSP, \v, \f, U+0085, U+2000 and other Unicode spaces, which
// bytes.TrimSpace would remove).
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// MaxDepth is how deeply arrays and objects may nest in a record. Deeper
// records are invalid: decoders recurse, and a few hundred kilobytes of
// brackets would otherwise stall or crash the consumer. The original cannot
// go deeper either (Python's recursion limit is about 1000).
const MaxDepth = 1000

// jsonTooDeep reports whether JSON text nests deeper than MaxDepth.
func jsonTooDeep(b []byte) bool {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}

// marshalOptions make the JSON v2 encoder behave as encoding/json (v1)
// does, except that it leaves <, > and & as they are and renders floats as
// Python does (see AppendFloat): the original's renderer.
var marshalOptions = jsonv2.JoinOptions(
	jsonv1.DefaultOptionsV1(),
	jsontext.EscapeForHTML(false),
	jsonv2.WithMarshalers(floatMarshalers),
)

var encoders = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	return &encoder{buf: b, enc: e}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *json.Encoder
}

// Marshal renders v as compact JSON the way the original does: like
// json.Marshal (struct tags, omitempty, MarshalJSON and MarshalText methods
// honoured), but without escaping <, > and & (the original writes them as
// they are), and with floats written as Python writes them: 2.0, 1e-07,
// 1e+16 (see AppendFloat), where encoding/json writes 2, 1e-7 and
// 10000000000000000. A NaN or an infinity is an error, as in
// encoding/json.
//
// A value whose type cannot hold a float (see holdsFloat) is rendered by
// encoding/json, as fast as before; any other by the JSON v2 encoder
// (github.com/go-json-experiment/json, which becomes encoding/json/v2) in
// its encoding/json-compatible mode, whose type-specific marshalers write
// the floats. It is slower than encoding/json, so only such values pay.
func Marshal(v any) (json.RawMessage, error) {
	if v != nil && !holdsFloat(reflect.TypeOf(v)) {
		e := encoders.Get().(*encoder)
		defer encoders.Put(e)
		e.buf.Reset()
		if err := e.enc.Encode(v); err != nil {
			return nil, err
		}
		out := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
		return bytes.Clone(out), nil
	}
	return jsonv2.Marshal(v, marshalOptions)
}

// AppendString appends s as a JSON string, without HTML escaping.
func AppendString(dst []byte, s string) []byte {
	if isPlain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	raw, err := Marshal(s)
	if err != nil { // a string always marshals
		return append(dst, `""`...)
	}
	return append(dst, raw...)
}

// isPlain reports whether s needs no escaping in JSON.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}
