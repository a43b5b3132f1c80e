package drf

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// maxDecimalString is DRF's DecimalField.MAX_STRING_LENGTH.
const maxDecimalString = 1000

// maxExponent bounds a parsed decimal's exponent, so that no value renders
// to more than about this many digits (PostgreSQL's numeric holds 131072
// before the point and 16383 after).
const maxExponent = 16383

// Decimal is a DRF DecimalField value: an exact decimal number that travels
// as a JSON string ("12.30"), DRF's default (COERCE_DECIMAL_TO_STRING).
//
// A Decimal rendered by DRF has exactly decimal_places digits after the
// point. Give a Decimal those digits with NewDecimal, or with Check (which
// is what Validate calls for a field tagged `drf:"max_digits=10,decimal_places=2"`):
// both round half to even, as DRF's quantize does. A Decimal that went
// through neither renders with the digits it was written with.
//
// A message field decodes as DRF's DecimalField parses: a JSON string or
// number, surrounding white space, underscores and Unicode digits allowed,
// NaN and infinities refused. The precision checks (max_digits,
// decimal_places) need the field's limits: Check applies them.
//
// The zero Decimal is 0. Negative zero ("-0.00") is kept, as DRF keeps it.
type Decimal struct {
	v       decimal.Decimal
	negZero bool  // -0, which decimal.Decimal cannot hold
	places  int32 // digits after the point when rendered; valid when fixed
	digits  int32 // max_digits; 0 when not known
	fixed   bool
}

// NewDecimal returns v as DRF renders it in a DecimalField(max_digits,
// decimal_places): rounded half to even to decimalPlaces digits. It fails,
// as DRF's rendering does, when the rounded value has more than maxDigits
// digits. maxDigits 0 means no limit.
func NewDecimal(v decimal.Decimal, maxDigits, decimalPlaces int) (Decimal, error) {
	d := Decimal{v: v}
	if err := d.quantize(maxDigits, decimalPlaces); err != nil {
		return Decimal{}, err
	}
	return d, nil
}

// ParseDecimal parses s as DRF's DecimalField parses text (before its
// precision checks, see Check).
func ParseDecimal(s string) (Decimal, error) {
	s = pyStrip(s)
	if utf8.RuneCountInString(s) > maxDecimalString {
		return Decimal{}, newError(CodeMaxStringLength, "String value too large.")
	}
	return parseDecimalText(s)
}

func invalidNumber() error { return newError(CodeInvalid, "A valid number is required.") }

// parseDecimalText reads Python's decimal.Decimal syntax, without
// infinities and NaNs.
func parseDecimalText(s string) (Decimal, error) {
	s = strings.ReplaceAll(asciiDigits(s), "_", "")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, expText := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
		if expText == "" {
			return Decimal{}, invalidNumber()
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return Decimal{}, invalidNumber()
	}
	exp := int64(0)
	if expText != "" {
		sign := int64(1)
		if expText[0] == '+' || expText[0] == '-' {
			if expText[0] == '-' {
				sign = -1
			}
			expText = expText[1:]
		}
		if expText == "" || !allDigits(expText) {
			return Decimal{}, invalidNumber()
		}
		expText = strings.TrimLeft(expText, "0")
		if len(expText) > 12 {
			return Decimal{}, newError(CodeMaxDigits, "Ensure that there are no more than %d digits in total.", maxExponent)
		}
		for _, c := range expText {
			exp = exp*10 + int64(c-'0')
		}
		exp *= sign
	}
	exp -= int64(len(frac))
	if exp > maxExponent || exp < -maxExponent {
		// DRF would refuse it for max_digits (or render megabytes of
		// zeros without limits); PostgreSQL's numeric cannot hold it.
		return Decimal{}, newError(CodeMaxDigits, "Ensure that there are no more than %d digits in total.", maxExponent)
	}
	coef, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return Decimal{}, invalidNumber()
	}
	if neg {
		coef.Neg(coef)
	}
	return Decimal{v: decimal.NewFromBigInt(coef, int32(exp)), negZero: neg && coef.Sign() == 0}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal returns the value. A negative zero is returned as 0.
func (d Decimal) Decimal() decimal.Decimal { return d.v }

// IsZero reports whether the value is zero (negative zero included).
func (d Decimal) IsZero() bool { return d.v.IsZero() }

// Check applies DRF's precision checks for DecimalField(max_digits,
// decimal_places) to the value as it was received, then rounds it to
// decimalPlaces digits as DRF does, so that it renders as DRF renders it.
// The error is an *Error with DRF's code and message (max_digits,
// max_decimal_places, max_whole_digits). maxDigits 0 means no limit on
// digits; decimalPlaces < 0 means none on places (and no rounding).
func (d *Decimal) Check(maxDigits, decimalPlaces int) error {
	digits, whole, places := d.precision()
	if maxDigits > 0 && digits > int64(maxDigits) {
		return newError(CodeMaxDigits, "Ensure that there are no more than %d digits in total.", maxDigits)
	}
	if decimalPlaces >= 0 && places > int64(decimalPlaces) {
		return newError(CodeMaxDecimalPlaces, "Ensure that there are no more than %d decimal places.", decimalPlaces)
	}
	if maxDigits > 0 && decimalPlaces >= 0 && whole > int64(maxDigits-decimalPlaces) {
		return newError(CodeMaxWholeDigits, "Ensure that there are no more than %d digits before the decimal point.", maxDigits-decimalPlaces)
	}
	if decimalPlaces < 0 {
		return nil
	}
	return d.quantize(maxDigits, decimalPlaces)
}

// precision returns the counts DRF's validate_precision computes from the
// value's digits and exponent.
func (d Decimal) precision() (total, whole, places int64) {
	n := int64(len(new(big.Int).Abs(d.v.Coefficient()).String()))
	exp := int64(d.v.Exponent())
	switch {
	case exp >= 0:
		return n + exp, n + exp, 0
	case n > -exp:
		return n, n + exp, -exp
	default:
		return -exp, 0, -exp
	}
}

func (d *Decimal) quantize(maxDigits, decimalPlaces int) error {
	if decimalPlaces < 0 || decimalPlaces > math.MaxInt32/2 || maxDigits < 0 {
		return fmt.Errorf("drf: invalid decimal limits max_digits=%d decimal_places=%d", maxDigits, decimalPlaces)
	}
	neg := d.v.Sign() < 0 || d.negZero
	q := d.v.RoundBank(int32(decimalPlaces))
	if maxDigits > 0 {
		if n := len(new(big.Int).Abs(q.Coefficient()).String()); n > maxDigits {
			return newError(CodeMaxDigits, "Ensure that there are no more than %d digits in total.", maxDigits)
		}
	}
	d.v, d.negZero, d.places, d.digits, d.fixed = q, neg && q.IsZero(), int32(decimalPlaces), int32(maxDigits), true
	return nil
}

// String returns the value as DRF renders it: fixed-point, with
// decimal_places digits after the point once NewDecimal or Check set them.
func (d Decimal) String() string {
	places := d.places
	if !d.fixed {
		places = max(0, -d.v.Exponent())
	}
	s := d.v.StringFixedBank(places)
	if d.negZero {
		s = "-" + s
	}
	return s
}

// MarshalJSON renders the value as a JSON string, as DRF does.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON parses a JSON string or number as DRF's DecimalField does
// (see Check for the precision checks). null is refused: use
// Optional[Decimal] or *Decimal for a field that allows null.
func (d *Decimal) UnmarshalJSON(data []byte) error {
	text, err := scalarText(data)
	if err != nil {
		return err
	}
	v, err := ParseDecimal(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// scalarText turns a JSON value into the text Python's str() gives for
// what json.loads returns: a string as is, an integer in decimal, a float
// as its repr. null fails with DRF's "null" error, other values with
// "invalid".
func scalarText(data []byte) (string, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return "", invalidNumber()
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return "", invalidNumber()
		}
		return s, nil
	case data[0] == '-' || (data[0] >= '0' && data[0] <= '9'):
		num := string(data)
		if isPyInt(num) {
			return num, nil
		}
		f, err := parseFloat(num)
		if err != nil {
			return "", invalidNumber()
		}
		return pyFloatRepr(f), nil
	case string(data) == "null":
		return "", nullError()
	}
	return "", invalidNumber()
}

// Value stores the value as text, as rendered (PostgreSQL numeric reads it
// exactly).
func (d Decimal) Value() (driver.Value, error) { return d.String(), nil }

// Scan reads a numeric column (text, []byte, integer or float).
func (d *Decimal) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	case int64:
		*d = Decimal{v: decimal.NewFromInt(v)}
		return nil
	case float64:
		text = pyFloatRepr(v)
	case nil:
		return fmt.Errorf("drf: cannot scan NULL into a Decimal (use Optional[Decimal])")
	default:
		return fmt.Errorf("drf: cannot scan %T into a Decimal", src)
	}
	v, err := parseDecimalText(strings.TrimSpace(text))
	if err != nil {
		return fmt.Errorf("drf: scan decimal %q: %w", text, err)
	}
	*d = v
	return nil
}

// GormDataType returns "decimal".
func (Decimal) GormDataType() string { return "decimal" }

// GormDBDataType returns numeric for PostgreSQL and decimal elsewhere.
// Give the column's precision in a gorm tag (`gorm:"type:numeric(10,2)"`)
// to match a Django DecimalField(max_digits=10, decimal_places=2).
func (Decimal) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	if db.Name() == "postgres" {
		return "numeric"
	}
	return "decimal"
}
