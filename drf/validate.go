package drf

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Validate applies the limits given in `drf` struct tags to the fields of
// the struct v points to, as the DRF fields they mirror do:
//
//	Total drf.Decimal `json:"total" drf:"max_digits=10,decimal_places=2"`
//
// checks Total with Check(10, 2), which also rounds it so that it renders
// as DRF renders it. Fields of type Decimal, *Decimal and Optional[Decimal]
// take the tag; embedded structs are walked. Call it from a serializer's
// Validate method (logpipe's consumer calls that after decoding), and
// before sending a message built from values that may have more decimal
// places.
//
// The errors are *Error values naming the field by its JSON name, joined
// (errors.Join) when several fields fail, in field order. A malformed tag
// is reported as an error that is not an *Error.
func Validate(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("drf: Validate needs a pointer to a struct, not %T", v)
	}
	rv = rv.Elem()
	var errs []error
	for _, f := range reflect.VisibleFields(rv.Type()) {
		tag, ok := f.Tag.Lookup("drf")
		if !ok || !f.IsExported() {
			continue
		}
		lim, err := parseDecimalTag(tag)
		if err != nil {
			return fmt.Errorf("drf: field %s of %s: %w", f.Name, rv.Type(), err)
		}
		fv, err := rv.FieldByIndexErr(f.Index)
		if err != nil {
			continue // behind a nil embedded pointer
		}
		if err := checkField(fv, lim); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return fmt.Errorf("drf: field %s of %s: %w", f.Name, rv.Type(), err)
			}
			errs = append(errs, withField(err, jsonName(f)))
		}
	}
	return errors.Join(errs...)
}

type decimalLimits struct{ maxDigits, decimalPlaces int }

func parseDecimalTag(tag string) (decimalLimits, error) {
	lim := decimalLimits{maxDigits: 0, decimalPlaces: -1}
	seen := 0
	for _, part := range strings.Split(tag, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return lim, fmt.Errorf("malformed drf tag %q (want max_digits=N,decimal_places=N)", tag)
		}
		switch k {
		case "max_digits":
			lim.maxDigits = n
		case "decimal_places":
			lim.decimalPlaces = n
		default:
			return lim, fmt.Errorf("unknown key %q in drf tag %q", k, tag)
		}
		seen++
	}
	if seen == 0 || lim.maxDigits > 0 && lim.decimalPlaces > lim.maxDigits {
		return lim, fmt.Errorf("malformed drf tag %q", tag)
	}
	return lim, nil
}

type decimalChecker interface {
	checkDecimal(maxDigits, decimalPlaces int) error
}

func checkField(fv reflect.Value, lim decimalLimits) error {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	if !fv.CanAddr() {
		return fmt.Errorf("field is not addressable")
	}
	switch p := fv.Addr().Interface().(type) {
	case *Decimal:
		return p.Check(lim.maxDigits, lim.decimalPlaces)
	case decimalChecker:
		return p.checkDecimal(lim.maxDigits, lim.decimalPlaces)
	}
	return fmt.Errorf("a drf tag needs a Decimal, *Decimal or Optional[Decimal] field, not %s", fv.Type())
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return f.Name
	}
	return name
}
