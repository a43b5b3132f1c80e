package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// errBadUTF8 is the cause for a msgpack str that is not UTF-8. Python's
// msgpack (raw=False, as the original unpacks) refuses such a record with
// UnicodeDecodeError; JSON would otherwise turn the bytes into U+FFFD,
// silently changing the message.
var errBadUTF8 = errors.New("msgpack: str is not valid UTF-8")

// checkMsgpack walks a msgpack value without decoding it, and fails when a
// header is malformed, a length runs past the end, bytes follow the value,
// or a str (a key or a value, at any depth) is not valid UTF-8. After this
// check every declared length fits in the input, so that a few hostile
// bytes cannot claim billions of entries.
//
// It also fails when containers nest deeper than MaxDepth: transcoding
// recurses, and a megabyte of nested one-item arrays would overflow the
// stack, a fatal error no recover can catch.
//
// It returns an upper bound of the size of the JSON that transcodeMsgpack
// writes for the value (see jsonCost), so that the output is allocated
// once, at most a small multiple of the input's size.
func checkMsgpack(b []byte) (jsonSize int, err error) {
	pos, pending := 0, 1
	// open holds, for each container being walked, how many of its items
	// are still to come; its length is the nesting depth.
	var open []int
	checkDepth := len(b) > MaxDepth // shorter values cannot nest that deep
	for pending > 0 {
		if pos >= len(b) {
			return 0, errors.New("msgpack: unexpected end of data")
		}
		c := b[pos]
		pos++
		pending--
		if checkDepth {
			for len(open) > 0 && open[len(open)-1] == 0 {
				open = open[:len(open)-1]
			}
			if len(open) > 0 {
				open[len(open)-1]--
			}
		}
		var size, items int // bytes of payload to skip; items that follow
		str, bin := false, false
		jsonSize++ // the ',' or ':' after it
		switch {
		case c <= 0x7f || c >= 0xe0: // "-32", "127"
			jsonSize += 3
		case c == 0xc0, c == 0xc3: // null, true
			jsonSize += 4
		case c == 0xc2: // false
			jsonSize += 5
		case c >= 0x80 && c <= 0x8f:
			items = 2 * int(c&0x0f)
			jsonSize += 2 // {}
		case c >= 0x90 && c <= 0x9f:
			items = int(c & 0x0f)
			jsonSize += 2 // []
		case c >= 0xa0 && c <= 0xbf:
			size, str = int(c&0x1f), true
		default:
			var lenBytes, extra, mult int
			switch c {
			case 0xc4:
				lenBytes, bin = 1, true
			case 0xc5:
				lenBytes, bin = 2, true
			case 0xc6:
				lenBytes, bin = 4, true
			case 0xd9:
				lenBytes, str = 1, true
			case 0xda:
				lenBytes, str = 2, true
			case 0xdb:
				lenBytes, str = 4, true
			case 0xc7:
				lenBytes, extra = 1, 1
			case 0xc8:
				lenBytes, extra = 2, 1
			case 0xc9:
				lenBytes, extra = 4, 1
			case 0xca, 0xce, 0xd2:
				size = 4
			case 0xcb, 0xcf, 0xd3:
				size = 8
			case 0xcc, 0xd0:
				size = 1
			case 0xcd, 0xd1:
				size = 2
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
				size = 1 + 1<<(c-0xd4)
			case 0xdc:
				lenBytes, mult = 2, 1
			case 0xdd:
				lenBytes, mult = 4, 1
			case 0xde:
				lenBytes, mult = 2, 2
			case 0xdf:
				lenBytes, mult = 4, 2
			default:
				return 0, fmt.Errorf("msgpack: invalid code 0x%02x at byte %d", c, pos-1)
			}
			if lenBytes > 0 {
				if len(b)-pos < lenBytes {
					return 0, errors.New("msgpack: unexpected end of data")
				}
				var n uint64
				switch lenBytes {
				case 1:
					n = uint64(b[pos])
				case 2:
					n = uint64(binary.BigEndian.Uint16(b[pos:]))
				case 4:
					n = uint64(binary.BigEndian.Uint32(b[pos:]))
				}
				pos += lenBytes
				if n > uint64(len(b)) {
					return 0, fmt.Errorf("msgpack: length %d at byte %d runs past the end", n, pos)
				}
				if mult > 0 {
					items = mult * int(n)
					jsonSize += 2 // [] or {}
				} else {
					size = int(n) + extra
				}
			}
			if !str && !bin && mult == 0 {
				// A number (at most 24 characters: -2.2250738585072014e-308)
				// or an ext (a timestamp: 32 with its quotes).
				jsonSize += 32
			}
		}
		if size > len(b)-pos {
			return 0, fmt.Errorf("msgpack: %d bytes at byte %d run past the end", size, pos)
		}
		if str || bin {
			p := b[pos : pos+size]
			switch {
			case utf8.Valid(p):
				jsonSize += quotedSize(p)
			case str:
				return 0, fmt.Errorf("%w at byte %d", errBadUTF8, pos)
			default: // base64
				jsonSize += 2 + (size+2)/3*4
			}
		}
		pos += size
		pending += items
		if checkDepth && items > 0 {
			if open = append(open, items); len(open) > MaxDepth {
				return 0, fmt.Errorf("msgpack: nests deeper than %d levels", MaxDepth)
			}
		}
		if pending > len(b)-pos {
			return 0, fmt.Errorf("msgpack: %d items declared at byte %d but only %d bytes left", pending, pos, len(b)-pos)
		}
	}
	if pos != len(b) {
		return 0, fmt.Errorf("msgpack: %d bytes after the value", len(b)-pos)
	}
	return jsonSize, nil
}

// quotedSize returns an upper bound of the length of UTF-8 text p as a
// JSON string written by appendQuoted.
func quotedSize(p []byte) int {
	n := len(p) + 2
	for _, c := range p {
		switch {
		case c < 0x20:
			n += 5 // \u00XX
		case c == '"', c == '\\':
			n++
		case c == 0xe2:
			n += 3 // perhaps U+2028 or U+2029, written \u2028
		}
	}
	return n
}
