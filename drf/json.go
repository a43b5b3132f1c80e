package drf

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// JSON is a DRF JSONField value: any JSON value, kept as text in the form
// DRF renders it, so that object keys keep their order (a Go map would sort
// them). Decoding normalizes the text the way Python's json module and DRF's
// renderer would: compact, a repeated key keeps its first position and its
// last value, floats as Python writes them (1e2 is 100.0), "-0" is 0,
// strings unescaped except where JSON requires it (and U+2028, U+2029).
// Numbers a float cannot hold (1e400) are refused, as DRF refuses them.
//
// The zero JSON renders as null. Use Optional[JSON] for a nullable field.
type JSON struct {
	raw []byte
}

func invalidJSON() error { return newError(CodeInvalid, "Value must be valid JSON.") }

// ParseJSON returns data, a JSON value, normalized as DRF renders it.
func ParseJSON(data []byte) (JSON, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	out, err := normalizeJSON(dec, nil, 0)
	if err != nil {
		return JSON{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return JSON{}, invalidJSON()
	}
	return JSON{raw: out}, nil
}

// NewJSON renders v (through encoding/json) as a JSON value. Go maps are
// rendered with sorted keys; use a struct, or ParseJSON with text, to
// choose the order.
func NewJSON(v any) (JSON, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return JSON{}, fmt.Errorf("drf: %w", err)
	}
	return ParseJSON(buf.Bytes())
}

// MustJSON is ParseJSON of a literal known to be valid JSON; it returns
// the zero JSON (null) when text is not valid.
func MustJSON(text string) JSON {
	j, err := ParseJSON([]byte(text))
	if err != nil {
		return JSON{}
	}
	return j
}

// Bytes returns the JSON text (null for the zero JSON). Do not modify it.
func (j JSON) Bytes() []byte {
	if j.raw == nil {
		return []byte("null")
	}
	return j.raw
}

// String returns the JSON text.
func (j JSON) String() string { return string(j.Bytes()) }

// IsNull reports whether the value is JSON null (or the zero JSON).
func (j JSON) IsNull() bool { return j.raw == nil || string(j.raw) == "null" }

// Unmarshal decodes the value into v with encoding/json.
func (j JSON) Unmarshal(v any) error { return json.Unmarshal(j.Bytes(), v) }

// MarshalJSON returns the JSON text.
func (j JSON) MarshalJSON() ([]byte, error) { return j.Bytes(), nil }

// UnmarshalJSON normalizes data (see JSON). null is refused, as DRF's
// JSONField refuses it unless null=True (use Optional[JSON]).
func (j *JSON) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nullError()
	}
	v, err := ParseJSON(data)
	if err != nil {
		return err
	}
	*j = v
	return nil
}

// Value stores the JSON text (PostgreSQL jsonb reads it; Django's text on SQLite).
func (j JSON) Value() (driver.Value, error) { return string(j.Bytes()), nil }

// Scan reads JSON text. PostgreSQL's jsonb returns its own key order (by
// length, then bytes), not the order the value was written in.
func (j *JSON) Scan(src any) error {
	var data []byte
	switch v := src.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	case nil:
		return fmt.Errorf("drf: cannot scan NULL into a JSON (use Optional[JSON])")
	default:
		return fmt.Errorf("drf: cannot scan %T into a JSON", src)
	}
	v, err := ParseJSON(data)
	if err != nil {
		return fmt.Errorf("drf: scan json: %w", err)
	}
	*j = v
	return nil
}

// GormDataType returns "json".
func (JSON) GormDataType() string { return "json" }

// GormDBDataType returns jsonb for PostgreSQL (what Django creates) and
// text elsewhere.
func (JSON) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	if db.Name() == "postgres" {
		return "jsonb"
	}
	return "text"
}

// maxJSONDepth bounds how deeply a JSON value may nest (Python's parser
// stops at about the same depth).
const maxJSONDepth = 1000

// normalizeJSON reads one value from dec and appends DRF's rendering of it.
func normalizeJSON(dec *json.Decoder, out []byte, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return nil, invalidJSON()
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidJSON()
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			out = append(out, '[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out = append(out, ',')
				}
				if out, err = normalizeJSON(dec, out, depth+1); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, invalidJSON()
			}
			return append(out, ']'), nil
		case '{':
			var keys []string
			vals := map[string][]byte{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, invalidJSON()
				}
				k, ok := kt.(string)
				if !ok {
					return nil, invalidJSON()
				}
				v, err := normalizeJSON(dec, nil, depth+1)
				if err != nil {
					return nil, err
				}
				if _, seen := vals[k]; !seen {
					keys = append(keys, k)
				}
				vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, invalidJSON()
			}
			out = append(out, '{')
			for i, k := range keys {
				if i > 0 {
					out = append(out, ',')
				}
				out = appendPyString(out, k)
				out = append(out, ':')
				out = append(out, vals[k]...)
			}
			return append(out, '}'), nil
		}
		return nil, invalidJSON()
	case string:
		return appendPyString(out, t), nil
	case json.Number:
		s := string(t)
		if isPyInt(s) {
			if s == "-0" {
				s = "0"
			}
			return append(out, s...), nil
		}
		f, err := parseFloat(s)
		if err != nil || f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			return nil, invalidJSON()
		}
		return append(out, pyFloatRepr(f)...), nil
	case bool:
		return strconv.AppendBool(out, t), nil
	case nil:
		return append(out, "null"...), nil
	}
	return nil, errors.New("drf: unexpected JSON token")
}

// appendPyString appends s as Python's json.dumps(ensure_ascii=False)
// writes it, with U+2028 and U+2029 escaped as DRF's renderer does.
func appendPyString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for _, r := range s {
		switch {
		case r == '"':
			out = append(out, '\\', '"')
		case r == '\\':
			out = append(out, '\\', '\\')
		case r == '\n':
			out = append(out, '\\', 'n')
		case r == '\r':
			out = append(out, '\\', 'r')
		case r == '\t':
			out = append(out, '\\', 't')
		case r == '\b':
			out = append(out, '\\', 'b')
		case r == '\f':
			out = append(out, '\\', 'f')
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			out = append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			out = utf8.AppendRune(out, r)
		}
	}
	return append(out, '"')
}
