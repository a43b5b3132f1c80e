package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
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
func (JSON) ParseBody(body []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: json body is not valid UTF-8", ErrInvalidBody)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: json body is not an object", ErrInvalidBody)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	return fields, nil
}

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
// json.Marshal, but without escaping <, > and & (the original writes them as
// they are).
func Marshal(v any) (json.RawMessage, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	return bytes.Clone(out), nil
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
