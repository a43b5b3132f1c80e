package drf

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Duration is a DRF DurationField value, rendered as Django's
// duration_string: "[D ]HH:MM:SS[.ffffff]", where a negative duration has
// negative days and a positive clock ("-1 23:59:59" is minus one second).
// Python keeps microseconds: a Duration is rounded to the microsecond
// (half to even) when rendered or stored.
//
// A message field decodes as DRF parses it (Django's parse_duration: its
// own format, ISO 8601 days and times, PostgreSQL's interval text, or a
// JSON number of seconds). Python allows up to 999,999,999 days; a Go
// time.Duration, and so a Duration, holds up to about 106,751 days, and
// longer values are refused with the "overflow" code.
//
// In a database, a Duration is a PostgreSQL interval (what Django creates
// for a DurationField there; GORM writes it through GormValue) and a
// bigint of microseconds elsewhere (what Django stores on SQLite and MySQL).
type Duration time.Duration

// micros returns d in microseconds, rounded half to even.
func (d Duration) micros() int64 {
	ns := int64(d)
	q, r := ns/1000, ns%1000
	if r < 0 {
		q, r = q-1, r+1000
	}
	if r > 500 || (r == 500 && q%2 != 0) {
		q++
	}
	return q
}

// String returns Django's duration_string of d.
func (d Duration) String() string {
	us := d.micros()
	const day = 86400 * 1000000
	days := us / day
	rem := us % day
	if rem < 0 {
		days, rem = days-1, rem+day
	}
	var b []byte
	if days != 0 {
		b = strconv.AppendInt(b, days, 10)
		b = append(b, ' ')
	}
	secs, frac := rem/1000000, rem%1000000
	b = appendPadded(b, int(secs/3600), 2)
	b = append(b, ':')
	b = appendPadded(b, int(secs/60%60), 2)
	b = append(b, ':')
	b = appendPadded(b, int(secs%60), 2)
	if frac != 0 {
		b = append(b, '.')
		b = appendPadded(b, int(frac), 6)
	}
	return string(b)
}

// MarshalJSON renders Django's duration_string as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON parses a JSON string or number as DRF's DurationField does.
// null is refused (use Optional[Duration]).
func (d *Duration) UnmarshalJSON(data []byte) error {
	text, err := scalarText(data)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Code == CodeInvalid {
			return invalidDuration()
		}
		return err
	}
	v, err := ParseDuration(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func invalidDuration() error {
	return newError(CodeInvalid, "Duration has wrong format. Use one of these formats instead: [DD] [HH:[MM:]]ss[.uuuuuu].")
}

var (
	standardDurationRE = regexp.MustCompile(`^(?:(-?` + pyD + `+) (days?, )?)?(-?)(?:(` + pyD + `+):(` + pyD + `+):|(` + pyD + `+):)?(` + pyD + `+)(?:[.,](` + pyD + `{1,6})` + pyD + `{0,6})?` + pyEnd)
	isoDurationRE      = regexp.MustCompile(`^([-+]?)P(?:(` + pyD + `+(?:[.,]` + pyD + `+)?)D)?(?:T(?:(` + pyD + `+(?:[.,]` + pyD + `+)?)H)?(?:(` + pyD + `+(?:[.,]` + pyD + `+)?)M)?(?:(` + pyD + `+(?:[.,]` + pyD + `+)?)S)?)?` + pyEnd)
	pgIntervalRE       = regexp.MustCompile(`^(?:(-?` + pyD + `+) (?:days? ?))?(?:([-+])?(` + pyD + `+):(` + pyD + `{2}):(` + pyD + `{2})(?:\.(` + pyD + `{1,6}))?)?` + pyEnd)
)

// ParseDuration parses s as Django's parse_duration does.
func ParseDuration(s string) (Duration, error) {
	var days, hours, minutes, seconds, micros string
	sign := int64(1)
	iso := false
	if g := standardDurationRE.FindStringSubmatch(s); g != nil {
		days, hours, minutes, seconds, micros = g[1], g[4], g[5], g[7], g[8]
		if g[6] != "" {
			minutes = g[6]
		}
		if g[3] == "-" {
			sign = -1
		}
		if micros != "" {
			micros = asciiDigits(micros)
			micros += strings.Repeat("0", 6-len(micros))
		}
	} else if g := isoDurationRE.FindStringSubmatch(s); g != nil {
		iso = true
		days, hours, minutes, seconds = g[2], g[3], g[4], g[5]
		if g[1] == "-" {
			sign = -1
		}
	} else if g := pgIntervalRE.FindStringSubmatch(s); g != nil {
		days, hours, minutes, seconds, micros = g[1], g[3], g[4], g[5], g[6]
		if g[2] == "-" {
			sign = -1
		}
		if micros != "" {
			micros = asciiDigits(micros)
			micros += strings.Repeat("0", 6-len(micros))
		}
	} else {
		return 0, invalidDuration()
	}
	num := func(t string) decimal.Decimal {
		if t == "" {
			return decimal.Zero
		}
		v, err := decimal.NewFromString(strings.Replace(asciiDigits(t), ",", ".", 1))
		if err != nil {
			return decimal.Zero
		}
		return v
	}
	dayPart := num(days).Mul(decimal.NewFromInt(86400e6))
	if iso {
		dayPart = dayPart.Mul(decimal.NewFromInt(sign))
	}
	rest := num(hours).Mul(decimal.NewFromInt(3600e6)).
		Add(num(minutes).Mul(decimal.NewFromInt(60e6))).
		Add(num(seconds).Mul(decimal.NewFromInt(1e6))).
		Add(num(micros)).
		Mul(decimal.NewFromInt(sign))
	total := dayPart.Add(rest).RoundBank(0)
	limit := decimal.NewFromInt(int64(maxDurationDays) * 86400e6)
	if total.Abs().GreaterThan(limit) {
		return 0, newError(CodeOverflow, "The number of days must be between %d and %d.", -maxDurationDays, maxDurationDays)
	}
	return Duration(total.BigInt().Int64() * 1000), nil
}

// maxDurationDays is the whole days a time.Duration holds.
const maxDurationDays = 106751

// Value stores the duration as a bigint of microseconds (see GormValue for
// PostgreSQL).
func (d Duration) Value() (driver.Value, error) { return d.micros(), nil }

// GormValue writes an interval on PostgreSQL and microseconds elsewhere.
func (d Duration) GormValue(_ context.Context, db *gorm.DB) clause.Expr {
	if db != nil && db.Dialector != nil && db.Name() == "postgres" {
		return clause.Expr{SQL: "CAST(? AS interval)", Vars: []any{strconv.FormatInt(d.micros(), 10) + " microseconds"}}
	}
	return clause.Expr{SQL: "?", Vars: []any{d.micros()}}
}

// Scan reads microseconds (an integer) or PostgreSQL interval text.
func (d *Duration) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case int64:
		if v > maxDurationDays*86400e6 || v < -maxDurationDays*86400e6 {
			return fmt.Errorf("drf: %d microseconds do not fit a Duration", v)
		}
		*d = Duration(v * 1000)
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
		return fmt.Errorf("drf: cannot scan NULL into a Duration (use Optional[Duration])")
	default:
		return fmt.Errorf("drf: cannot scan %T into a Duration", src)
	}
	if _, ok := new(big.Int).SetString(strings.TrimSpace(s), 10); ok {
		us, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("drf: scan duration %q: %w", s, err)
		}
		return d.Scan(us)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("drf: scan duration %q: %w", s, err)
	}
	*d = v
	return nil
}

// GormDataType returns "int" (microseconds).
func (Duration) GormDataType() string { return "int" }

// GormDBDataType returns interval for PostgreSQL and bigint elsewhere, the
// columns Django creates for a DurationField.
func (Duration) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	if db.Name() == "postgres" {
		return "interval"
	}
	return "bigint"
}
