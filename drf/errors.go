package drf

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every *Error of this package: a value
// that the Django REST Framework field would reject.
var ErrInvalid = errors.New("drf: invalid value")

// Error codes, as DRF names them in ValidationError details. Code is what a
// DRF client sees in error.detail[field][i].code.
const (
	CodeInvalid          = "invalid"
	CodeNull             = "null"
	CodeMaxDigits        = "max_digits"
	CodeMaxDecimalPlaces = "max_decimal_places"
	CodeMaxWholeDigits   = "max_whole_digits"
	CodeMaxStringLength  = "max_string_length"
	CodeOverflow         = "overflow"
	CodeDate             = "date"
	CodeDatetime         = "datetime"
)

// Error is a value that a DRF field rejects, with DRF's error code and
// (English) message. Field is the JSON name of the serializer field when it
// is known: Validate fills it in, and the consumer names the field of a
// message that does not decode.
type Error struct {
	// Field is the JSON name of the field, or "" when not known.
	Field string
	// Code is DRF's error code, such as "max_decimal_places".
	Code string
	// Message is DRF's message, such as "Ensure that there are no more than
	// 2 decimal places.".
	Message string
}

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns "field: message", or the message alone when Field is "".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// FieldName returns Field. logpipe's consumer uses it to name the field of
// a validation error.
func (e *Error) FieldName() string { return e.Field }

// withField returns a copy of err naming field, when err is an *Error
// without a field; other errors are returned as they are.
func withField(err error, field string) error {
	var e *Error
	if errors.As(err, &e) && e.Field == "" {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

var errNull = &Error{Code: CodeNull, Message: "This field may not be null."}

func nullError() error { c := *errNull; return &c }
