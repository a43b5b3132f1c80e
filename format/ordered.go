package format

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// orderedMap is a JSON object or msgpack map with its keys in their
// order on the wire, so that converting a message between JSON and msgpack
// keeps the order of every object's keys (a DRF JSONField value is rendered
// in its keys' order; a Go map would sort them). A repeated key keeps its
// first position and its last value, as a Python dict does.
type orderedMap struct {
	keys []string
	vals []any
	idx  map[string]int // key positions, once there are many keys
}

func (m *orderedMap) set(k string, v any) {
	if m.idx == nil && len(m.keys) >= 16 {
		m.idx = make(map[string]int, 2*len(m.keys))
		for i, key := range m.keys {
			if _, dup := m.idx[key]; !dup {
				m.idx[key] = i
			}
		}
	}
	if m.idx != nil {
		if i, ok := m.idx[k]; ok {
			m.vals[i] = v
			return
		}
		m.idx[k] = len(m.keys)
	} else {
		for i, existing := range m.keys {
			if existing == k {
				m.vals[i] = v
				return
			}
		}
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
}

// EncodeMsgpack writes the map in key order.
func (m *orderedMap) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(m.keys)); err != nil {
		return err
	}
	for i, k := range m.keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.Encode(m.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON writes the object in key order, like Marshal.
func (m *orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(AppendString(nil, k))
		b.WriteByte(':')
		v, err := Marshal(m.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeOrderedJSON reads one JSON value from dec into generic values with
// ordered objects, integers as int64 (or uint64) and other numbers as
// float64, as Python does.
func decodeOrderedJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &orderedMap{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrderedJSON(dec)
				if err != nil {
					return nil, err
				}
				m.set(k, v)
			}
			_, err := dec.Token()
			return m, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeOrderedJSON(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return numbers(t), nil
	}
	return tok, nil
}
