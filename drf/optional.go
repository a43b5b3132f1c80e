package drf

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

type presence uint8

const (
	absent presence = iota
	null
	present
)

// ErrAbsentRendered is returned when an absent Optional field is rendered:
// tag the field `json:"name,omitzero"` so that an absent value is left out
// of the message, as DRF leaves out a field a partial serializer was not
// given. (Rendering null instead would make a Django consumer clear the
// field.)
var ErrAbsentRendered = errors.New("drf: an absent Optional field was rendered; tag it `json:\",omitzero\"`")

// Optional is a field that may be absent from a message, null, or hold a
// value, three cases DRF tells apart: a partial update (partial=True)
// leaves an absent field unchanged, while null clears it. A field
// `Email drf.Optional[string] `json:"email,omitzero"“ decodes to:
//
//   - absent (the zero Optional) when the message has no "email";
//   - null when it has "email": null;
//   - a value otherwise, decoded as T decodes.
//
// It renders the same way: tagged omitzero, an absent Optional is left out;
// null renders null.
//
// Optional is meant for message fields. It is a column type too (absent
// and null are both written as NULL; database/sql reads NULL as null), but
// GORM does not call Scan for NULL and leaves the field as it was: a NULL
// read by GORM into a new row is the zero Optional, absent. For model
// columns prefer *T, and copy with Apply (message to row) and OptionalOf
// (row to message).
type Optional[T any] struct {
	value T
	state presence
}

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{value: v, state: present} }

// Null returns a null Optional.
func Null[T any]() Optional[T] { return Optional[T]{state: null} }

// Absent returns an absent Optional (the zero value).
func Absent[T any]() Optional[T] { return Optional[T]{} }

// OptionalOf returns Some(*p), or Null when p is nil.
func OptionalOf[T any](p *T) Optional[T] {
	if p == nil {
		return Null[T]()
	}
	return Some(*p)
}

// Get returns the value and true when there is one.
func (o Optional[T]) Get() (T, bool) { return o.value, o.state == present }

// Or returns the value, or def when absent or null.
func (o Optional[T]) Or(def T) T {
	if o.state == present {
		return o.value
	}
	return def
}

// Ptr returns a pointer to a copy of the value, or nil when absent or null.
func (o Optional[T]) Ptr() *T {
	if o.state != present {
		return nil
	}
	v := o.value
	return &v
}

// IsAbsent reports whether the field was not in the message.
func (o Optional[T]) IsAbsent() bool { return o.state == absent }

// IsNull reports whether the field was null.
func (o Optional[T]) IsNull() bool { return o.state == null }

// IsSet reports whether the field holds a value.
func (o Optional[T]) IsSet() bool { return o.state == present }

// IsZero reports whether the field is absent; with the omitzero tag option
// encoding/json leaves such a field out.
func (o Optional[T]) IsZero() bool { return o.state == absent }

// Apply stores the value in *dst when the field was in the message: the
// value itself, or nil for null. An absent field leaves *dst unchanged,
// as a partial update does. A typical Save: optional.Apply(&row.Email).
func (o Optional[T]) Apply(dst **T) {
	switch o.state {
	case null:
		*dst = nil
	case present:
		*dst = o.Ptr()
	}
}

// MarshalJSON renders null, or the value as T renders. An absent value
// fails with ErrAbsentRendered (tag the field omitzero).
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	switch o.state {
	case null:
		return []byte("null"), nil
	case present:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // <, > and & as they are, as DRF renders them
		if err := enc.Encode(o.value); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
	}
	return nil, ErrAbsentRendered
}

// UnmarshalJSON reads null, or a value as T decodes it (T's own errors,
// such as *Error, are returned as they are).
func (o *Optional[T]) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*o = Null[T]()
		return nil
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*o = Some(v)
	return nil
}

// Value returns NULL when absent or null, else the value's (through its
// driver.Valuer when it has one).
func (o Optional[T]) Value() (driver.Value, error) {
	if o.state != present {
		return nil, nil
	}
	if v, ok := any(o.value).(driver.Valuer); ok {
		return v.Value()
	}
	return driver.DefaultParameterConverter.ConvertValue(o.value)
}

// Scan reads NULL as null, anything else into a value (through T's
// sql.Scanner when it has one).
func (o *Optional[T]) Scan(src any) error {
	if src == nil {
		*o = Null[T]()
		return nil
	}
	var v T
	if s, ok := any(&v).(sql.Scanner); ok {
		if err := s.Scan(src); err != nil {
			return err
		}
		*o = Some(v)
		return nil
	}
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	*o = Some(n.V)
	return nil
}

// GormDataType returns T's GORM data type, when T declares one.
func (o Optional[T]) GormDataType() string {
	if t, ok := any(o.value).(interface{ GormDataType() string }); ok {
		return t.GormDataType()
	}
	return ""
}

// GormDBDataType returns T's column type, when T declares one.
func (o Optional[T]) GormDBDataType(db *gorm.DB, f *schema.Field) string {
	if t, ok := any(o.value).(interface {
		GormDBDataType(*gorm.DB, *schema.Field) string
	}); ok {
		return t.GormDBDataType(db, f)
	}
	return ""
}

// checkDecimal applies Decimal.Check to a present Decimal.
func (o *Optional[T]) checkDecimal(maxDigits, decimalPlaces int) error {
	d, ok := any(&o.value).(*Decimal)
	if !ok {
		return fmt.Errorf("a drf tag needs a Decimal, *Decimal or Optional[Decimal] field, not Optional[%T]", o.value)
	}
	if o.state != present {
		return nil
	}
	return d.Check(maxDigits, decimalPlaces)
}

// GormValue writes NULL, or the value as T writes it (T's own GormValue,
// such as Duration's interval on PostgreSQL, included).
func (o Optional[T]) GormValue(ctx context.Context, db *gorm.DB) clause.Expr {
	if o.state == present {
		if gv, ok := any(o.value).(interface {
			GormValue(context.Context, *gorm.DB) clause.Expr
		}); ok {
			return gv.GormValue(ctx, db)
		}
	}
	v, err := o.Value()
	if err != nil && db != nil {
		_ = db.AddError(err)
	}
	return clause.Expr{SQL: "?", Vars: []any{v}}
}
