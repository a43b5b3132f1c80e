package drf

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

var currentZone atomic.Pointer[time.Location]

// SetTimeZone sets the time zone of DateTime values, as Django's TIME_ZONE
// setting (with USE_TZ = True) sets DRF's: DateTime values are rendered in
// it, and a message's datetime without an offset is read in it. Use the
// Django app's TIME_ZONE so that both sides render the same text. The
// default is UTC. Call it at start-up, before messages are sent or read.
func SetTimeZone(loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	currentZone.Store(loc)
}

// TimeZone returns the zone set by SetTimeZone (UTC by default).
func TimeZone() *time.Location {
	if loc := currentZone.Load(); loc != nil {
		return loc
	}
	return time.UTC
}

const datetimeFormats = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"

// DateTime is a DRF DateTimeField value (USE_TZ = True): an instant,
// rendered in the zone set by SetTimeZone with its offset ("Z" for UTC),
// as "2020-01-02T03:04:05Z" or, when it has microseconds,
// "2020-01-02T03:04:05.123456-05:00". Python keeps microseconds: finer
// digits are dropped when rendered and stored.
//
// A message field decodes as DRF parses it: ISO 8601 in the forms Python's
// datetime.fromisoformat and Django's parse_datetime take; text without an
// offset is read in the current zone, as DRF reads it (a wall time that a
// DST change makes ambiguous or skips takes the offset in force before the
// change, like Python's fold=0).
type DateTime struct {
	time.Time
}

// NewDateTime returns t as a DateTime.
func NewDateTime(t time.Time) DateTime { return DateTime{Time: t} }

// ParseDateTime parses s as DRF's DateTimeField does, in the current zone.
func ParseDateTime(s string) (DateTime, error) {
	c, ok := parseDateTime(s)
	if !ok {
		if s != "iso-8601" { // DRF's strptime(value, "iso-8601") fallback
			return DateTime{}, newError(CodeInvalid, "Datetime has wrong format. Use one of these formats instead: %s.", datetimeFormats)
		}
		c = civil{year: 1900, month: 1, day: 1}
	}
	loc := TimeZone()
	var t time.Time
	if c.hasTZ {
		t = time.Date(c.year, time.Month(c.month), c.day, c.hour, c.minute, c.second, c.micro*1000, time.UTC).
			Add(-time.Duration(c.tzMicros) * time.Microsecond)
	} else {
		t = makeAware(c, loc)
	}
	if y := t.In(loc).Year(); y < 1 || y > 9999 || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
		return DateTime{}, newError(CodeOverflow, "Datetime value out of range.")
	}
	return DateTime{Time: t.In(loc)}, nil
}

// makeAware reads a wall time in loc as Python's zoneinfo does with fold=0:
// in a repeated hour, the first occurrence; in a skipped hour, the offset
// in force before the change.
func makeAware(c civil, loc *time.Location) time.Time {
	wall := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.minute, c.second, c.micro*1000, time.UTC)
	offsetAt := func(t time.Time) int { _, off := t.In(loc).Zone(); return off }
	before, after := offsetAt(wall.Add(-48*time.Hour)), offsetAt(wall.Add(48*time.Hour))
	valid := func(off int) bool { return offsetAt(wall.Add(-time.Duration(off)*time.Second)) == off }
	off := before
	if !valid(before) && valid(after) {
		off = after
	}
	return wall.Add(-time.Duration(off) * time.Second)
}

// String returns the value as DRF renders it, or "" when it is out of
// Python's range (years 1 to 9999 in the current zone).
func (d DateTime) String() string {
	b, err := d.appendText(nil)
	if err != nil {
		return ""
	}
	return string(b)
}

func (d DateTime) appendText(b []byte) ([]byte, error) {
	t := d.In(TimeZone())
	if t.Year() < 1 || t.Year() > 9999 {
		return nil, newError(CodeOverflow, "Datetime value out of range.")
	}
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		b = append(b, '.')
		b = appendPadded(b, us, 6)
	}
	_, off := t.Zone()
	if off == 0 {
		return append(b, 'Z'), nil
	}
	b = appendOffset(b, off)
	return b, nil
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendOffset appends ±HH:MM, or ±HH:MM:SS for offsets with seconds
// (local mean times before 1900), as Python's isoformat does.
func appendOffset(b []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = appendPadded(b, off/3600, 2)
	b = append(b, ':')
	b = appendPadded(b, off/60%60, 2)
	if off%60 != 0 {
		b = append(b, ':')
		b = appendPadded(b, off%60, 2)
	}
	return b
}

// MarshalJSON renders the value as DRF does (see DateTime). It fails for an
// instant out of Python's range in the current zone, as DRF does.
func (d DateTime) MarshalJSON() ([]byte, error) {
	b, err := d.appendText([]byte{'"'})
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// UnmarshalJSON parses a JSON string as DRF's DateTimeField does. null is
// refused (use Optional[DateTime]).
func (d *DateTime) UnmarshalJSON(data []byte) error {
	s, err := stringValue(data, func() error {
		return newError(CodeInvalid, "Datetime has wrong format. Use one of these formats instead: %s.", datetimeFormats)
	})
	if err != nil {
		return err
	}
	v, err := ParseDateTime(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value stores the instant as a time.Time in UTC, to the microsecond.
func (d DateTime) Value() (driver.Value, error) {
	return d.UTC().Truncate(time.Microsecond), nil
}

// Scan reads a timestamp column: a time.Time, or text as SQLite keeps it
// ("2020-01-02 03:04:05.123456", read as UTC, as Django writes it there).
func (d *DateTime) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		d.Time = v.In(TimeZone())
		return nil
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	case nil:
		return fmt.Errorf("drf: cannot scan NULL into a DateTime (use Optional[DateTime])")
	}
	return fmt.Errorf("drf: cannot scan %T into a DateTime", src)
}

func (d *DateTime) scanText(s string) error {
	c, ok := parseDateTime(s)
	if !ok {
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
			if t, err := time.Parse(layout, s); err == nil {
				d.Time = t.In(TimeZone())
				return nil
			}
		}
		return fmt.Errorf("drf: scan datetime %q: not a datetime", s)
	}
	t := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.minute, c.second, c.micro*1000, time.UTC)
	d.Time = t.Add(-time.Duration(c.tzMicros) * time.Microsecond).In(TimeZone())
	return nil
}

// GormDataType returns "time".
func (DateTime) GormDataType() string { return "time" }

// GormDBDataType returns timestamptz for PostgreSQL (what Django creates
// for a DateTimeField) and datetime elsewhere.
func (DateTime) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	if db.Name() == "postgres" {
		return "timestamptz"
	}
	return "datetime"
}

// stringValue returns the JSON string in data. null fails with DRF's
// "null" error; other JSON values with notString's error.
func stringValue(data []byte, notString func() error) (string, error) {
	if string(data) == "null" {
		return "", nullError()
	}
	if len(data) == 0 || data[0] != '"' {
		return "", notString()
	}
	s, err := scalarText(data)
	if err != nil {
		return "", notString()
	}
	return s, nil
}
