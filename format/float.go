package format

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/logpipe-go/logpipe/internal/clip"
)

// AppendFloat appends f as Python's repr(float) writes it, which is how the
// original's JSON renderer writes a float: the shortest digits that read
// back as f; exponent form when the decimal exponent is below -4 or at
// least 16, with a sign and at least two exponent digits (1e-07, 1e+16,
// 1.5e+300); positional otherwise, with ".0" after an integral value (2.0,
// -0.0). bitSize is 64, or 32 to take the shortest digits that read back
// as the same float32 (Python has no float32; a float32 field holding 0.1
// renders 0.1). A NaN or an infinity is written as Python's json writes
// it, NaN, Infinity or -Infinity, which is not JSON: Marshal refuses them,
// as the original's strict renderer does.
func AppendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	// Format once, in exponent form, [-]d[.ddd]e±dd[d]: the shortest
	// digits and the exponent; then lay the digits out as Python would.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bitSize)
	i := len(e) - 1
	for e[i] != '+' && e[i] != '-' {
		i--
	}
	exp := 0
	for _, c := range e[i+1:] {
		exp = exp*10 + int(c-'0')
	}
	if e[i] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	mant := e[:i-1] // without "e±"
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	// The digits without the point: d, or d.ddd -> dddd.
	var digits [24]byte
	nd := copy(digits[:], mant[:1])
	if len(mant) > 2 {
		nd += copy(digits[nd:], mant[2:])
	}
	ds := digits[:nd]
	if exp < 0 { // 0.000ddd
		dst = append(dst, '0', '.')
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, ds...)
	}
	if nd <= exp+1 { // ddd000.0
		dst = append(dst, ds...)
		for range exp + 1 - nd {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, ds[:exp+1]...) // dd.ddd
	dst = append(dst, '.')
	return append(dst, ds[exp+1:]...)
}

// floatMarshalers render float64 and float32 values with AppendFloat. A
// non-finite float falls back to the default marshaler, whose error (as
// encoding/json's: "json: unsupported value: NaN") is kept. A float used as
// a map key, or in a field tagged ",string", is written as a string holding
// the same text, as Python writes a float dict key.
//
// They also render encoding/json.Number as encoding/json does (the JSON v2
// module knows only its own Number type and would write a string).
var floatMarshalers = jsonv2.JoinMarshalers(
	jsonv2.MarshalToFunc(func(enc *jsontext.Encoder, f float64) error { return writeFloat(enc, f, 64) }),
	jsonv2.MarshalToFunc(func(enc *jsontext.Encoder, f float32) error { return writeFloat(enc, float64(f), 32) }),
	jsonv2.MarshalToFunc(writeNumber),
)

func writeFloat(enc *jsontext.Encoder, f float64, bitSize int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.ErrUnsupported
	}
	var tmp [40]byte
	text := AppendFloat(tmp[:0], f, bitSize)
	if kind, n := enc.StackIndex(enc.StackDepth()); kind == '{' && n%2 == 0 {
		return enc.WriteToken(jsontext.String(string(text))) // an object name
	}
	if quoted, _ := jsonv2.GetOption(enc.Options(), jsonv2.StringifyNumbers); quoted {
		return enc.WriteToken(jsontext.String(string(text)))
	}
	return enc.WriteValue(text)
}

// writeNumber writes an encoding/json.Number as encoding/json does: as a
// number, "" as 0, and an error for text that is not a JSON number.
func writeNumber(enc *jsontext.Encoder, n json.Number) error {
	if n == "" {
		n = "0"
	}
	if c := n[0]; c != '-' && (c < '0' || c > '9') {
		return fmt.Errorf("json: invalid number literal %q", clip.Text(string(n), clip.Wire))
	}
	if quoted, _ := jsonv2.GetOption(enc.Options(), jsonv2.StringifyNumbers); quoted {
		return enc.WriteToken(jsontext.String(string(n)))
	}
	return enc.WriteValue(jsontext.Value(n))
}

// floatTypes caches holdsFloat's answer per type.
var floatTypes sync.Map // reflect.Type -> bool

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// holdsFloat reports whether a value of type t can hold a float that JSON
// encoding reaches: a float field, element or key, an interface (which
// may hold anything), at any depth. A type whose value renders itself
// (MarshalJSON or MarshalText on the value) is a leaf: both encoders call
// its method.
func holdsFloat(t reflect.Type) bool {
	if v, ok := floatTypes.Load(t); ok {
		return v.(bool)
	}
	b := walkFloat(t, map[reflect.Type]bool{})
	floatTypes.Store(t, b)
	return b
}

func walkFloat(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] { // a recursive type: explored where first seen
		return false
	}
	seen[t] = true
	if t.Kind() != reflect.Interface && (t.Implements(marshalerType) || t.Implements(textMarshalerType)) {
		return false
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return walkFloat(t.Elem(), seen)
	case reflect.Map:
		return walkFloat(t.Key(), seen) || walkFloat(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); (f.IsExported() || f.Anonymous) && walkFloat(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
