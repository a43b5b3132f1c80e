package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

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

// ParseBody decodes a msgpack map with text keys; each field is returned
// as JSON (see Fields.Unrepresentable for NaN and infinities). The body is
// transcoded to JSON directly (see transcoder), in memory bounded by a
// small multiple of its size. Trailing bytes, a str that is not UTF-8 and
// a map key that is neither str nor bin are errors, as they are for the
// original's unpacker; an entry with a bin key is left out (to the
// original it is a bytes key, which matches no field); an ext other than a
// timestamp is unrepresentable, like NaN.
func (Msgpack) ParseBody(body []byte) (Fields, error) {
	var f Fields
	size, err := checkMsgpack(body)
	if err != nil {
		return f, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	t := transcoder{b: body, out: make([]byte, 0, size)}
	n, isMap, err := t.mapLen()
	if err != nil {
		return f, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	if !isMap {
		return f, fmt.Errorf("%w: msgpack body is not a map", ErrInvalidBody)
	}
	for range n {
		k, text, err := t.key()
		if err != nil {
			return Fields{}, fmt.Errorf("%w: %w", ErrInvalidBody, err)
		}
		if !text {
			k = nil // a bytes key: not "type" or any other field
		}
		start := len(t.out)
		t.unrepresentable = false
		if err := t.value(); err != nil {
			return Fields{}, fmt.Errorf("%w: %w", ErrInvalidBody, err)
		}
		raw := json.RawMessage(t.out[start:len(t.out):len(t.out)])
		var dst *json.RawMessage
		switch string(k) {
		case "type":
			dst = &f.Type
		case "version":
			dst = &f.Version
		case "producer":
			dst = &f.Producer
		case "message":
			// Such as NaN, which msgpack carries and JSON cannot: the
			// message is present but unrepresentable, and the envelope
			// still decodes. (A later "message" key replaces it, as
			// in a Python dict.)
			f.Message, f.Unrepresentable = raw, t.unrepresentable
			if t.unrepresentable {
				f.Message = nil
			}
			continue
		default:
			t.out = t.out[:start] // another key: its value is not kept
			continue
		}
		if t.unrepresentable {
			raw = json.RawMessage("null")
		}
		*dst = raw
	}
	if t.pos != len(body) { // checkMsgpack has seen to it
		return Fields{}, fmt.Errorf("%w: %d bytes after the msgpack map", ErrInvalidBody, len(body)-t.pos)
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
