package drf

import (
	"database/sql/driver"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

const dateFormats = "YYYY-MM-DD"

// Date is a DRF DateField value: a calendar date, years 1 to 9999,
// rendered as "2020-01-02". A message field decodes as DRF parses it (the
// forms of Python's date.fromisoformat and Django's parse_date).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate parses s as DRF's DateField does.
func ParseDate(s string) (Date, error) {
	c, ok := parseDate(s)
	if !ok {
		return Date{}, newError(CodeInvalid, "Date has wrong format. Use one of these formats instead: %s.", dateFormats)
	}
	return Date{Year: c.year, Month: time.Month(c.month), Day: c.day}, nil
}

// IsValid reports whether d is a real date between 0001-01-01 and 9999-12-31.
func (d Date) IsValid() bool { return validDate(d.Year, int(d.Month), d.Day) }

// In returns midnight of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// String returns "YYYY-MM-DD".
func (d Date) String() string {
	b := appendPadded(nil, d.Year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(d.Month), 2)
	b = append(b, '-')
	return string(appendPadded(b, d.Day, 2))
}

// MarshalJSON renders "YYYY-MM-DD"; it fails for an invalid date.
func (d Date) MarshalJSON() ([]byte, error) {
	if !d.IsValid() {
		return nil, fmt.Errorf("drf: %04d-%02d-%02d is not a date between 0001-01-01 and 9999-12-31", d.Year, d.Month, d.Day)
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON parses a JSON string as DRF's DateField does. null is
// refused (use Optional[Date]).
func (d *Date) UnmarshalJSON(data []byte) error {
	s, err := stringValue(data, func() error {
		return newError(CodeInvalid, "Date has wrong format. Use one of these formats instead: %s.", dateFormats)
	})
	if err != nil {
		return err
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value stores "YYYY-MM-DD" (PostgreSQL date; Django's text on SQLite).
func (d Date) Value() (driver.Value, error) {
	if !d.IsValid() {
		return nil, fmt.Errorf("drf: %04d-%02d-%02d is not a valid date", d.Year, d.Month, d.Day)
	}
	return d.String(), nil
}

// Scan reads a date column (time.Time or "YYYY-MM-DD...").
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = DateOf(v)
		return nil
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	case nil:
		return fmt.Errorf("drf: cannot scan NULL into a Date (use Optional[Date])")
	}
	return fmt.Errorf("drf: cannot scan %T into a Date", src)
}

func (d *Date) scanText(s string) error {
	if len(s) > 10 {
		s = s[:10]
	}
	v, err := ParseDate(s)
	if err != nil {
		return fmt.Errorf("drf: scan date %q: %w", s, err)
	}
	*d = v
	return nil
}

// GormDataType returns "date".
func (Date) GormDataType() string { return "date" }

// GormDBDataType returns "date".
func (Date) GormDBDataType(*gorm.DB, *schema.Field) string { return "date" }

const timeFormats = "hh:mm[:ss[.uuuuuu]]"

// Time is a DRF TimeField value: a time of day without a zone, to the
// microsecond, rendered as "03:04:05" or "03:04:05.123456". A message field
// decodes as DRF parses it (Python's time.fromisoformat, with any offset
// dropped, and Django's parse_time).
type Time struct {
	Hour, Minute, Second, Microsecond int
}

// TimeOf returns the time of day of t in t's location.
func TimeOf(t time.Time) Time {
	return Time{Hour: t.Hour(), Minute: t.Minute(), Second: t.Second(), Microsecond: t.Nanosecond() / 1000}
}

// ParseTime parses s as DRF's TimeField does.
func ParseTime(s string) (Time, error) {
	c, ok := parseTime(s)
	if !ok {
		return Time{}, newError(CodeInvalid, "Time has wrong format. Use one of these formats instead: %s.", timeFormats)
	}
	return Time{Hour: c.hour, Minute: c.minute, Second: c.second, Microsecond: c.micro}, nil
}

// IsValid reports whether every component is in range.
func (t Time) IsValid() bool {
	return t.Hour >= 0 && t.Hour < 24 && t.Minute >= 0 && t.Minute < 60 && t.Second >= 0 && t.Second < 60 &&
		t.Microsecond >= 0 && t.Microsecond < 1e6
}

// String returns "HH:MM:SS", with ".ffffff" when there are microseconds.
func (t Time) String() string {
	b := appendPadded(nil, t.Hour, 2)
	b = append(b, ':')
	b = appendPadded(b, t.Minute, 2)
	b = append(b, ':')
	b = appendPadded(b, t.Second, 2)
	if t.Microsecond != 0 {
		b = append(b, '.')
		b = appendPadded(b, t.Microsecond, 6)
	}
	return string(b)
}

// MarshalJSON renders the time as DRF does; it fails for an invalid time.
func (t Time) MarshalJSON() ([]byte, error) {
	if !t.IsValid() {
		return nil, fmt.Errorf("drf: %+v is not a valid time of day", t)
	}
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON parses a JSON string as DRF's TimeField does. null is
// refused (use Optional[Time]).
func (t *Time) UnmarshalJSON(data []byte) error {
	s, err := stringValue(data, func() error {
		return newError(CodeInvalid, "Time has wrong format. Use one of these formats instead: %s.", timeFormats)
	})
	if err != nil {
		return err
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Value stores the time as text (PostgreSQL time; Django's text on SQLite).
func (t Time) Value() (driver.Value, error) {
	if !t.IsValid() {
		return nil, fmt.Errorf("drf: %+v is not a valid time of day", t)
	}
	return t.String(), nil
}

// Scan reads a time column (text, or a time.Time's clock).
func (t *Time) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case time.Time:
		*t = TimeOf(v)
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
		return fmt.Errorf("drf: cannot scan NULL into a Time (use Optional[Time])")
	default:
		return fmt.Errorf("drf: cannot scan %T into a Time", src)
	}
	v, err := ParseTime(s)
	if err != nil {
		return fmt.Errorf("drf: scan time %q: %w", s, err)
	}
	*t = v
	return nil
}

// GormDataType returns "time".
func (Time) GormDataType() string { return "time" }

// GormDBDataType returns "time".
func (Time) GormDBDataType(*gorm.DB, *schema.Field) string { return "time" }
