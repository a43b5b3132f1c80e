package logpipe

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/logpipe-go/logpipe/format"
)

// fieldNamer is implemented by errors that know the message field they
// are about (such as *drf.Error).
type fieldNamer interface{ FieldName() string }

// validationFrom turns an error returned by a Validator into a
// *ValidationError, naming the field when the error knows it.
func validationFrom(err error) *ValidationError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve
	}
	ve = &ValidationError{Err: err}
	var fn fieldNamer
	if errors.As(err, &fn) {
		ve.Field = fn.FieldName()
	}
	return ve
}

// decodeError describes why msg does not decode into a value of struct
// type t. Like DRF, which reports {"total": [...]}, it names the field: the
// first field, in the struct's order, whose value does not decode on its
// own (further failing fields are joined to Err). When no single field is
// at fault (the message is not an object, say), Field is the path the JSON
// decoder reports, if any.
func decodeError(t reflect.Type, msg json.RawMessage, err error) *ValidationError {
	ve := &ValidationError{Reason: "message does not decode", Err: err}
	var failed []*ValidationError
	if t.Kind() == reflect.Struct {
		var fields map[string]json.RawMessage
		if format.Unmarshal(msg, &fields) == nil {
			for _, f := range messageFields(t) {
				raw, ok := fields[f.name]
				if !ok {
					continue
				}
				v := reflect.New(f.typ)
				if ferr := format.Unmarshal(raw, v.Interface()); ferr != nil {
					failed = append(failed, &ValidationError{Field: f.name, Err: ferr})
				}
			}
		}
	}
	if len(failed) == 1 {
		return failed[0]
	}
	if len(failed) > 1 {
		errs := []error{failed[0].Err}
		for _, f := range failed[1:] {
			errs = append(errs, f)
		}
		return &ValidationError{Field: failed[0].Field, Err: errors.Join(errs...)}
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field != "" {
		ve.Field = ute.Field
	}
	return ve
}

type messageField struct {
	name string
	typ  reflect.Type
}

// messageFields lists t's fields by JSON name, in struct order, as
// encoding/json sees them (embedded structs' fields promoted).
func messageFields(t reflect.Type) []messageField {
	var out []messageField
	seen := map[string]bool{}
	for _, f := range reflect.VisibleFields(t) {
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if !f.IsExported() || f.Anonymous && f.Tag.Get("json") == "" && ft.Kind() == reflect.Struct {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, messageField{name: name, typ: f.Type})
		}
	}
	return out
}
