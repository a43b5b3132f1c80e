package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Msgpack is the "msgpack" format: text as msgpack str (not bin), integers
// in their smallest form, floats as float64, like Python's
// msgpack.packb(data, use_bin_type=True).
type Msgpack struct{}

// Code returns "msgpack".
func (Msgpack) Code() string { return "msgpack" }

// AppendBody appends the envelope as a msgpack map, keys in the order type,
// version, message, producer.
func (Msgpack) AppendBody(dst []byte, env *Envelope) ([]byte, error) {
	msg, err := decodeJSON(env.Message)
	if err != nil {
		return nil, fmt.Errorf("logpipe/format: message of type %q: %w", env.Type, err)
	}
	buf := bytes.NewBuffer(dst)
	enc := msgpack.NewEncoder(buf)
	enc.UseCompactInts(true)
	n := 3
	if env.Producer != "" {
		n = 4
	}
	err = enc.EncodeMapLen(n)
	fields := [...]struct {
		k string
		v any
	}{{"type", env.Type}, {"version", env.Version}, {"message", msg}, {"producer", env.Producer}}
	for _, kv := range fields[:n] {
		if err == nil {
			err = enc.EncodeString(kv.k)
		}
		if err == nil {
			err = enc.Encode(kv.v)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("logpipe/format: msgpack: %w", err)
	}
	return buf.Bytes(), nil
}

// ParseBody decodes a msgpack map with string keys; each field is returned
// as JSON (see Fields.Unrepresentable for NaN and infinities). Trailing
// bytes are an error.
func (Msgpack) ParseBody(body []byte) (Fields, error) {
	var f Fields
	if err := checkMsgpack(body); err != nil {
		return f, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	r := bytes.NewReader(body)
	dec := msgpack.NewDecoder(r)
	dec.SetMapDecoder(decodeOrderedMsgpackMap) // nested maps keep their key order
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return f, fmt.Errorf("%w: msgpack: %w", ErrInvalidBody, err)
	}
	if m == nil {
		return f, fmt.Errorf("%w: msgpack body is not a map", ErrInvalidBody)
	}
	if r.Len() > 0 {
		return f, fmt.Errorf("%w: %d bytes after the msgpack map", ErrInvalidBody, r.Len())
	}
	for _, k := range [...]struct {
		name string
		dst  *json.RawMessage
	}{{"type", &f.Type}, {"version", &f.Version}, {"message", &f.Message}, {"producer", &f.Producer}} {
		v, ok := m[k.name]
		if !ok {
			continue
		}
		raw, err := Marshal(binAsText(v))
		if err != nil {
			// Such as NaN, which msgpack carries and JSON cannot: the
			// field is present but unrepresentable, and the envelope
			// still decodes.
			if k.name == "message" {
				f.Unrepresentable = true
				continue
			}
			raw = json.RawMessage("null")
		}
		*k.dst = raw
	}
	return f, nil
}

// decodeJSON decodes JSON into generic values, keeping integers as int64
// (or uint64) and other numbers as float64, as Python does, and objects'
// keys in their order.
func decodeJSON(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return decodeOrderedJSON(dec)
}

func numbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(t), 10, 64); err == nil {
			return u
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	}
	return v
}

// binAsText turns msgpack bin values that hold UTF-8 into strings, as the
// original's JSON renderer does with bytes; other bin values stay []byte
// (base64 in JSON). Floats stay floats in JSON (1.0, not 1), as Python
// renders them.
func binAsText(v any) any {
	switch t := v.(type) {
	case float64:
		return jsonFloat(t)
	case float32:
		return jsonFloat(t)
	case []byte:
		if utf8.Valid(t) {
			return string(t)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = binAsText(e)
		}
	case *orderedMap:
		for i, e := range t.vals {
			t.vals[i] = binAsText(e)
		}
	case []any:
		for i, e := range t {
			t[i] = binAsText(e)
		}
	}
	return v
}

// jsonFloat is a float that renders as a JSON number a reader still sees
// as a float: "1.0", not "1" (Python's json writes 1.0 for a float).
type jsonFloat float64

// MarshalJSON renders the float like encoding/json, with ".0" added to an
// integral value. NaN and infinities fail, as in encoding/json.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(float64(f))
	if err != nil {
		return nil, err
	}
	if !bytes.ContainsAny(b, ".eE") {
		b = append(b, ".0"...)
	}
	return b, nil
}
