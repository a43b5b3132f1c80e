// Package format renders and parses logpipe's wire envelope.
//
// A record's value is CODE ":" BODY, where CODE names the format ("json" or
// "msgpack") and BODY encodes a map with the keys "type" (string), "version"
// (integer), "message" (the serialized object) and, when the producer has an
// id, "producer". The message travels between this package and its callers
// as JSON text (json.RawMessage) whatever the wire format, so that one
// struct's JSON tags define its fields for both formats.
//
// Messages are rendered as the original's renderer writes them, floats
// included (see AppendFloat and Marshal), so that a json record is byte
// for byte what the original would send.
//
// msgpack bodies are read by hand-written code (msgpack_check.go and
// msgpack_json.go, a few hundred lines) rather than a msgpack library's
// decoder: decoding into map[string]any and []any costs 30 to 170 bytes of
// memory per input byte for records of nils or empty maps, which lets a
// small record exhaust a consumer's memory, and a library lets through
// what the original's unpacker refuses (a str that is not UTF-8, a nil map
// key). The body is checked in one pass, then transcoded straight to JSON
// in a buffer of at most about 6 bytes per input byte. Rendering msgpack
// uses github.com/vmihailenco/msgpack.
//
// Pickle, which the original can read when ALLOW_INCOMING_PICKLE is set, is
// not supported: unpickling runs code chosen by whoever can write to the
// topic. A pickle record is an unknown format.
package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logpipe-go/logpipe/internal/clip"
)

// Default is the code of the default format.
const Default = "json"

// ErrUnknownFormat is returned for a record whose value has no "CODE:"
// prefix, or names a format that is not registered.
var ErrUnknownFormat = errors.New("logpipe/format: unknown format")

// ErrInvalidBody is returned when a body cannot be decoded, or does not
// decode to a map with string keys.
var ErrInvalidBody = errors.New("logpipe/format: body is not a valid map")

// ErrMissingField is returned when a body lacks "type", "version" or
// "message".
var ErrMissingField = errors.New("logpipe/format: missing envelope field")

// Envelope is the decoded form of a record's value.
type Envelope struct {
	// Type is the message type. For a type that is not a JSON string on
	// the wire, Type holds its JSON text and TypeIsString is false.
	Type         string
	TypeIsString bool
	// Version is the schema version; valid only when VersionIsInt, which
	// is false for a version that is not an integral number (such as the
	// string "1"). VersionText is the version's JSON text either way.
	Version      int
	VersionIsInt bool
	VersionText  string
	// Message is the message as JSON. It is nil when the wire carried a
	// message that JSON cannot represent, such as a msgpack NaN (see
	// Fields.Unrepresentable); such a message fails to decode into any
	// serializer.
	Message json.RawMessage
	// Producer is the sending application's id, or "" when absent.
	Producer string
}

// Codec renders and parses one format's body (the part after "CODE:").
type Codec interface {
	// Code is the format's code, such as "json".
	Code() string
	// AppendBody appends the body encoding env's Type, Version, Message
	// and (when not empty) Producer, in that key order.
	AppendBody(dst []byte, env *Envelope) ([]byte, error)
	// ParseBody decodes body into the envelope's fields, each as JSON. It
	// fails with ErrInvalidBody when body is not a map.
	ParseBody(body []byte) (Fields, error)
}

// Fields are an envelope's top-level fields as JSON, nil when absent.
type Fields struct {
	Type     json.RawMessage `json:"type"`
	Version  json.RawMessage `json:"version"`
	Message  json.RawMessage `json:"message"`
	Producer json.RawMessage `json:"producer"`
	// Unrepresentable is set when the message is present but JSON cannot
	// represent it (a msgpack NaN or infinity, or an ext other than a
	// timestamp); Message is then nil.
	Unrepresentable bool `json:"-"`
}

var codecs = map[string]Codec{
	"json":    JSON{},
	"msgpack": Msgpack{},
}

// Lookup returns the codec registered for code.
func Lookup(code string) (Codec, error) {
	c, ok := codecs[code]
	if !ok {
		return nil, fmt.Errorf("%w %s (known: %s)", ErrUnknownFormat, clip.Quote(code, clip.Wire), strings.Join(Codes(), ", "))
	}
	return c, nil
}

// Codes lists the registered format codes, sorted.
func Codes() []string {
	out := make([]string, 0, len(codecs))
	for c := range codecs {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Render returns the record value CODE ":" BODY for env in the given codec.
func Render(c Codec, env *Envelope) ([]byte, error) {
	code := c.Code()
	dst := make([]byte, 0, len(code)+1+len(env.Message)+64)
	dst = append(dst, code...)
	dst = append(dst, ':')
	return c.AppendBody(dst, env)
}

// Parse decodes a record value into its envelope. The envelope's Message
// may share memory with value. Errors wrap ErrUnknownFormat, ErrInvalidBody
// or ErrMissingField.
func Parse(value []byte) (*Envelope, error) {
	i := bytes.IndexByte(value, ':')
	if i < 0 {
		return nil, fmt.Errorf("%w: the value has no \"CODE:\" prefix", ErrUnknownFormat)
	}
	c, err := Lookup(string(value[:i]))
	if err != nil {
		return nil, err
	}
	fields, err := c.ParseBody(value[i+1:])
	if err != nil {
		return nil, err
	}
	return fromFields(fields)
}

func fromFields(f Fields) (*Envelope, error) {
	var missing []string
	if f.Type == nil {
		missing = append(missing, "type")
	}
	if f.Version == nil {
		missing = append(missing, "version")
	}
	if f.Message == nil && !f.Unrepresentable {
		missing = append(missing, "message")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMissingField, strings.Join(missing, ", "))
	}
	env := &Envelope{Message: f.Message, VersionText: string(f.Version)}
	if env.Type, env.TypeIsString = jsonString(f.Type); !env.TypeIsString {
		env.Type = string(f.Type)
	}
	env.Version, env.VersionIsInt = parseVersion(f.Version)
	env.Producer, _ = jsonString(f.Producer) // a non-string producer is ignored, like any unknown key
	return env, nil
}

// jsonString decodes a JSON string; ok is false for any other value.
func jsonString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if isPlain(string(inner)) { // the common case: nothing to unescape
		return string(inner), true
	}
	if err := json.Unmarshal(raw, &s); err != nil || !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

// parseVersion accepts an integral JSON number, such as 1 or 1.0 (Python's
// 1.0 == 1 finds version 1 in the original).
func parseVersion(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(raw), 10, 32); err == nil {
		return int(i), true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, false
	}
	const limit = 1 << 31
	if f != float64(int64(f)) || f >= limit || f <= -limit {
		return 0, false
	}
	return int(f), true
}
