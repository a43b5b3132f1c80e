package logpipe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/logpipe-go/logpipe/format"
	"github.com/logpipe-go/logpipe/internal/clip"
)

// The kinds of record errors, matched with errors.Is. Each is wrapped in a
// *RecordError that names the record.
var (
	// ErrInvalidMessage: the record is not a logpipe envelope (no or an
	// unknown format code, a body that does not decode to a map, a missing
	// type, version or message). Also matches ErrUnknownFormat where that
	// is the cause.
	ErrInvalidMessage = errors.New("logpipe: invalid message")
	// ErrUnknownFormat: the record's format code is missing or unknown.
	// It is also an ErrInvalidMessage.
	ErrUnknownFormat = format.ErrUnknownFormat
	// ErrIgnoredType: the message's type is one the consumer ignores. Such
	// records are skipped silently (logged at debug level).
	ErrIgnoredType = errors.New("logpipe: ignored message type")
	// ErrUnknownType: no serializer is registered for the message's type.
	ErrUnknownType = errors.New("logpipe: unknown message type")
	// ErrUnknownVersion: serializers are registered for the type, but none
	// for the message's version.
	ErrUnknownVersion = errors.New("logpipe: unknown message version")
	// ErrValidation: the message did not decode into its serializer, or
	// failed its validation. The cause is a *ValidationError.
	ErrValidation = errors.New("logpipe: invalid message fields")
	// ErrSave: LookupInstance or Save failed, or the offset could not be
	// committed. The consumer stops; nothing is committed for the record.
	ErrSave = errors.New("logpipe: save failed")
)

// RecordError is the error for one record: which record, what kind of
// failure (Kind, one of the ErrX above) and its cause. errors.Is matches
// both Kind and the cause.
type RecordError struct {
	Position
	// Key is the record's key.
	Key []byte
	// Type and Version are the envelope's, when it got that far.
	Type    string
	Version string
	// Kind is ErrInvalidMessage, ErrIgnoredType, ErrUnknownType,
	// ErrUnknownVersion, ErrValidation or ErrSave.
	Kind error
	// Err is the cause, or nil.
	Err error
}

// Error describes the failure and names the record's topic, partition (or
// shard), offset (or sequence number) and key. Wire values (type, version,
// key) are cut to 200 bytes and the cause's text to 1000, with a marker
// saying how much was cut; the fields keep them whole.
func (e *RecordError) Error() string {
	s := e.Kind.Error()
	if e.Type != "" {
		s += " " + clip.Quote(e.Type, clip.Wire)
		if e.Version != "" {
			s += " version " + clip.Text(e.Version, clip.Wire)
		}
	}
	s += fmt.Sprintf(" (record %s, key %s)", e.Position, clip.Quote(e.Key, clip.Wire))
	if e.Err != nil {
		s += ": " + clip.Text(e.Err.Error(), clip.Cause)
	}
	return s
}

// Unwrap returns Kind and, when set, the cause.
func (e *RecordError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// ValidationError reports a message whose fields are not acceptable. Return
// one from Validate, LookupInstance or Save to have the record skipped
// (logged and committed) rather than stop the consumer.
type ValidationError struct {
	// Field is the JSON name of the offending field, or "" for the whole
	// message.
	Field string
	// Reason says what is wrong.
	Reason string
	// Err is the cause, if any.
	Err error
}

// Invalid returns a *ValidationError for field, with a reason made by
// fmt.Sprintf(format, args...).
func Invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Error returns "field: reason: cause", leaving out the parts that are
// empty (and the field when the cause names it already).
func (e *ValidationError) Error() string {
	var parts []string
	var fn fieldNamer
	causeNamesField := e.Err != nil && errors.As(e.Err, &fn) && fn.FieldName() == e.Field
	if e.Field != "" && !causeNamesField {
		parts = append(parts, e.Field)
	}
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the cause.
func (e *ValidationError) Unwrap() error { return e.Err }
