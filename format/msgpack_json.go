package format

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// transcoder writes msgpack as JSON directly, without decoding it into Go
// values first. It is hand-written because decoding into map[string]any and
// []any, as a msgpack library does, costs 30 to 170 bytes of memory per
// input byte for records of nils or empty maps (measured with
// vmihailenco/msgpack: 100,000 nils, 32 bytes a byte; empty maps, 78;
// one-entry maps of empty maps, 170); written straight into a buffer sized
// by checkMsgpack, the JSON is
// at most about 6 bytes per input byte (a control character in a string
// becomes \u00XX) and is allocated once. It also keeps the rules of the
// original's unpacker (msgpack.unpack, raw=False, strict_map_key=True) in
// one place: map keys are str (or bin, which matches no field), str is
// UTF-8 (checked by checkMsgpack).
//
// It runs only on input that checkMsgpack accepted: lengths fit and nesting
// is bounded. It still checks bounds, and fails rather than panics.
type transcoder struct {
	b   []byte
	pos int
	out []byte
	// unrepresentable is set when a value JSON cannot hold was met: a NaN
	// or an infinity, an ext other than a timestamp; null stands in for
	// each.
	unrepresentable bool
}

var errTruncated = errors.New("msgpack: unexpected end of data")

// next returns the next n bytes of input.
func (t *transcoder) next(n int) ([]byte, error) {
	if n < 0 || n > len(t.b)-t.pos {
		return nil, errTruncated
	}
	p := t.b[t.pos : t.pos+n]
	t.pos += n
	return p, nil
}

// length reads a big-endian length of n bytes (1, 2 or 4).
func (t *transcoder) length(n int) (int, error) {
	p, err := t.next(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return int(p[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(p)), nil
	default:
		return int(binary.BigEndian.Uint32(p)), nil
	}
}

// mapLen reads a map header, or reports ok false (and consumes nothing)
// when the next value is not a map.
func (t *transcoder) mapLen() (n int, ok bool, err error) {
	if t.pos >= len(t.b) {
		return 0, false, errTruncated
	}
	switch c := t.b[t.pos]; {
	case c >= 0x80 && c <= 0x8f:
		t.pos++
		return int(c & 0x0f), true, nil
	case c == 0xde:
		t.pos++
		n, err = t.length(2)
		return n, true, err
	case c == 0xdf:
		t.pos++
		n, err = t.length(4)
		return n, true, err
	}
	return 0, false, nil
}

// key reads a map key. Python's msgpack (strict_map_key, the default)
// accepts only str and bytes keys, and a bytes key is not text: it matches
// no field. key returns text false for such a bin key.
func (t *transcoder) key() (k []byte, text bool, err error) {
	if t.pos >= len(t.b) {
		return nil, false, errTruncated
	}
	at := t.pos
	c := t.b[t.pos]
	t.pos++
	var n int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = t.length(1)
	case c == 0xda || c == 0xc5:
		n, err = t.length(2)
	case c == 0xdb || c == 0xc6:
		n, err = t.length(4)
	default:
		return nil, false, fmt.Errorf("msgpack: map key at byte %d is not a string", at)
	}
	if err != nil {
		return nil, false, err
	}
	k, err = t.next(n)
	return k, c < 0xc4 || c > 0xc6, err
}

// value writes the next value as JSON.
func (t *transcoder) value() error {
	if t.pos >= len(t.b) {
		return errTruncated
	}
	at := t.pos
	c := t.b[t.pos]
	t.pos++
	switch {
	case c <= 0x7f:
		t.out = strconv.AppendInt(t.out, int64(c), 10)
		return nil
	case c >= 0xe0:
		t.out = strconv.AppendInt(t.out, int64(int8(c)), 10)
		return nil
	case c >= 0x80 && c <= 0x8f:
		return t.object(int(c & 0x0f))
	case c >= 0x90 && c <= 0x9f:
		return t.array(int(c & 0x0f))
	case c >= 0xa0 && c <= 0xbf:
		return t.text(int(c&0x1f), false)
	}
	var n int
	var err error
	switch c {
	case 0xc0:
		t.out = append(t.out, "null"...)
		return nil
	case 0xc2:
		t.out = append(t.out, "false"...)
		return nil
	case 0xc3:
		t.out = append(t.out, "true"...)
		return nil
	case 0xc4, 0xc5, 0xc6: // bin
		if n, err = t.length(1 << (c - 0xc4)); err != nil {
			return err
		}
		return t.text(n, true)
	case 0xd9, 0xda, 0xdb: // str
		if n, err = t.length(1 << (c - 0xd9)); err != nil {
			return err
		}
		return t.text(n, false)
	case 0xdc, 0xdd:
		if n, err = t.length(2 << (c - 0xdc)); err != nil {
			return err
		}
		return t.array(n)
	case 0xde, 0xdf:
		if n, err = t.length(2 << (c - 0xde)); err != nil {
			return err
		}
		return t.object(n)
	case 0xca, 0xcb: // float32, float64
		p, err := t.next(4 << (c - 0xca))
		if err != nil {
			return err
		}
		var f float64
		if c == 0xca {
			// Python reads a float32 as the double of the same value.
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
		} else {
			f = math.Float64frombits(binary.BigEndian.Uint64(p))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.unrepresentable = true
			t.out = append(t.out, "null"...)
			return nil
		}
		t.out = AppendFloat(t.out, f, 64)
		return nil
	case 0xcc, 0xcd, 0xce, 0xcf: // uint8..uint64
		p, err := t.next(1 << (c - 0xcc))
		if err != nil {
			return err
		}
		var u uint64
		for _, x := range p {
			u = u<<8 | uint64(x)
		}
		t.out = strconv.AppendUint(t.out, u, 10)
		return nil
	case 0xd0, 0xd1, 0xd2, 0xd3: // int8..int64
		p, err := t.next(1 << (c - 0xd0))
		if err != nil {
			return err
		}
		var u uint64
		for _, x := range p {
			u = u<<8 | uint64(x)
		}
		shift := 64 - 8*len(p) // sign-extend
		t.out = strconv.AppendInt(t.out, int64(u<<shift)>>shift, 10)
		return nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16
		return t.ext(at, 1<<(c-0xd4))
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		if n, err = t.length(1 << (c - 0xc7)); err != nil {
			return err
		}
		return t.ext(at, n)
	}
	return fmt.Errorf("msgpack: invalid code 0x%02x at byte %d", c, at)
}

func (t *transcoder) array(n int) error {
	t.out = append(t.out, '[')
	for i := range n {
		if i > 0 {
			t.out = append(t.out, ',')
		}
		if err := t.value(); err != nil {
			return err
		}
	}
	t.out = append(t.out, ']')
	return nil
}

// object writes a map of n entries. Keys keep their order, duplicates
// included: a JSON decoder, like Python's dict, keeps the last. An entry
// with a bin key is left out: to the original it is a bytes key, which no
// field (a str) matches.
func (t *transcoder) object(n int) error {
	t.out = append(t.out, '{')
	first := true
	for range n {
		mark := len(t.out)
		k, text, err := t.key()
		if err != nil {
			return err
		}
		if !first {
			t.out = append(t.out, ',')
		}
		t.out = appendQuoted(t.out, k)
		t.out = append(t.out, ':')
		if err := t.value(); err != nil {
			return err
		}
		if !text {
			t.out = t.out[:mark]
			continue
		}
		first = false
	}
	t.out = append(t.out, '}')
	return nil
}

// text writes n bytes of str, or of bin: bin that holds UTF-8 is written
// as text, as the original's JSON renderer writes bytes; other bin in
// base64, as encoding/json writes []byte.
func (t *transcoder) text(n int, bin bool) error {
	p, err := t.next(n)
	if err != nil {
		return err
	}
	if !utf8.Valid(p) {
		if !bin {
			return errBadUTF8
		}
		t.out = append(t.out, '"')
		t.out = base64.StdEncoding.AppendEncode(t.out, p)
		t.out = append(t.out, '"')
		return nil
	}
	t.out = appendQuoted(t.out, p)
	return nil
}

// ext writes an ext value of n data bytes. The msgpack timestamp (type -1)
// is written as an RFC 3339 string in UTC, as encoding/json writes a
// time.Time; the original gets a msgpack.Timestamp. Other ext types are
// unrepresentable.
func (t *transcoder) ext(at, n int) error {
	typ, err := t.next(1)
	if err != nil {
		return err
	}
	p, err := t.next(n)
	if err != nil {
		return err
	}
	if int8(typ[0]) != -1 {
		// Python hands an ExtType to the serializer, which no field
		// accepts, and which an ignored field lets through; so it is
		// unrepresentable rather than invalid.
		t.unrepresentable = true
		t.out = append(t.out, "null"...)
		return nil
	}
	var sec int64
	var nsec uint32
	switch n {
	case 4:
		sec = int64(binary.BigEndian.Uint32(p))
	case 8:
		v := binary.BigEndian.Uint64(p)
		nsec, sec = uint32(v>>34), int64(v&(1<<34-1))
	case 12:
		nsec, sec = binary.BigEndian.Uint32(p), int64(binary.BigEndian.Uint64(p[4:]))
	default:
		return fmt.Errorf("msgpack: timestamp of %d bytes at byte %d", n, at)
	}
	ts := time.Unix(sec, int64(nsec)).UTC()
	if y := ts.Year(); y < 0 || y > 9999 {
		t.unrepresentable = true // no RFC 3339 form
		t.out = append(t.out, "null"...)
		return nil
	}
	t.out = append(t.out, '"')
	t.out = ts.AppendFormat(t.out, time.RFC3339Nano)
	t.out = append(t.out, '"')
	return nil
}

// appendQuoted appends UTF-8 text p as a JSON string: ", \ and control
// characters escaped (\n, \r, \t, \b, \f, else \u00XX), U+2028 and U+2029
// escaped as encoding/json escapes them, everything else as it is.
func appendQuoted(dst, p []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		var esc string
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c != 0xe2:
			continue
		case c == 0xe2:
			if i+2 >= len(p) || p[i+1] != 0x80 || p[i+2]&^1 != 0xa8 {
				continue
			}
			dst = append(dst, p[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[p[i+2]&0xf])
			i += 2
			start = i + 1
			continue
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c == '\b':
			esc = `\b`
		case c == '\f':
			esc = `\f`
		}
		dst = append(dst, p[start:i]...)
		if esc != "" {
			dst = append(dst, esc...)
		} else {
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, p[start:]...)
	return append(dst, '"')
}
