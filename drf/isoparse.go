package drf

import (
	"regexp"
	"strconv"
	"strings"
)

// civil is a parsed date and time of day, with an optional UTC offset, as
// Python's datetime holds it (microseconds, offsets to the microsecond).
type civil struct {
	year, month, day            int
	hour, minute, second, micro int
	hasTZ                       bool
	tzMicros                    int64 // east of UTC
}

func isASCIIDigits(r []rune) bool {
	for _, c := range r {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func runesInt(r []rune) (int, bool) {
	if len(r) == 0 || !isASCIIDigits(r) {
		return 0, false
	}
	n, err := strconv.Atoi(string(r))
	return n, err == nil
}

// findISOSeparator ports CPython's _find_isoformat_datetime_separator.
func findISOSeparator(s []rune) int {
	n := len(s)
	if n == 7 {
		return 7
	}
	if s[4] == '-' {
		if s[5] == 'W' {
			if n > 8 && s[8] == '-' {
				if n == 9 {
					return -1
				}
				if n > 10 && s[10] >= '0' && s[10] <= '9' {
					return 8
				}
				return 10
			}
			return 8
		}
		return 10
	}
	if s[4] == 'W' {
		idx := 7
		for idx < n && s[idx] >= '0' && s[idx] <= '9' {
			idx++
		}
		if idx < 9 {
			return idx
		}
		if idx%2 == 0 {
			return 7
		}
		return 8
	}
	return 8
}

// parseISODate ports CPython's date parsing of fromisoformat: YYYY-MM-DD,
// YYYYMMDD, YYYY-Www[-D] and YYYYWww[D], ASCII digits only.
func parseISODate(s []rune) (y, m, d int, ok bool) {
	if len(s) != 7 && len(s) != 8 && len(s) != 10 {
		return 0, 0, 0, false
	}
	y, ok = runesInt(s[0:4])
	if !ok {
		return 0, 0, 0, false
	}
	hasSep := s[4] == '-'
	pos := 4
	if hasSep {
		pos++
	}
	if pos < len(s) && s[pos] == 'W' {
		pos++
		if pos+2 > len(s) {
			return 0, 0, 0, false
		}
		week, ok := runesInt(s[pos : pos+2])
		if !ok {
			return 0, 0, 0, false
		}
		pos += 2
		day := 1
		if len(s) > pos {
			if (s[pos] == '-') != hasSep {
				return 0, 0, 0, false
			}
			if hasSep {
				pos++
			}
			if pos+1 != len(s) {
				return 0, 0, 0, false
			}
			if day, ok = runesInt(s[pos : pos+1]); !ok {
				return 0, 0, 0, false
			}
		}
		return isoWeekToGregorian(y, week, day)
	}
	if pos+2 > len(s) {
		return 0, 0, 0, false
	}
	if m, ok = runesInt(s[pos : pos+2]); !ok {
		return 0, 0, 0, false
	}
	pos += 2
	if (pos < len(s) && s[pos] == '-') != hasSep {
		return 0, 0, 0, false
	}
	if hasSep {
		pos++
	}
	if pos+2 != len(s) {
		return 0, 0, 0, false
	}
	if d, ok = runesInt(s[pos : pos+2]); !ok {
		return 0, 0, 0, false
	}
	return y, m, d, validDate(y, m, d)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func validDate(y, m, d int) bool {
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

// ordinal returns the proleptic Gregorian ordinal of a date (0001-01-01 is 1).
func ordinal(y, m, d int) int {
	y1 := y - 1
	n := y1*365 + y1/4 - y1/100 + y1/400
	for i := 1; i < m; i++ {
		n += daysIn(y, i)
	}
	return n + d
}

func fromOrdinal(n int) (y, m, d int, ok bool) {
	if n < 1 || n > ordinal(9999, 12, 31) {
		return 0, 0, 0, false
	}
	y = 1 + (n-1)/366 // never too far; step forward
	for ordinal(y+1, 1, 1) <= n {
		y++
	}
	rem := n - ordinal(y, 1, 1) + 1
	m = 1
	for rem > daysIn(y, m) {
		rem -= daysIn(y, m)
		m++
	}
	return y, m, rem, true
}

// isoWeekToGregorian ports CPython's _isoweek_to_gregorian.
func isoWeekToGregorian(y, week, day int) (int, int, int, bool) {
	if y < 1 || y > 9999 {
		return 0, 0, 0, false
	}
	if week < 1 || week > 52 {
		ok := false
		if week == 53 {
			first := ordinal(y, 1, 1) % 7 // 1 Monday ... 0 Sunday
			ok = first == 4 || (first == 3 && isLeap(y))
		}
		if !ok {
			return 0, 0, 0, false
		}
	}
	if day < 1 || day > 7 {
		return 0, 0, 0, false
	}
	first := ordinal(y, 1, 1)
	wd := (first + 6) % 7 // 0 Monday
	mon1 := first - wd
	if wd > 3 {
		mon1 += 7
	}
	return fromOrdinal(mon1 + (week-1)*7 + (day - 1))
}

// parseHHMMSSFF ports CPython's C parser of HH[:MM[:SS[.ffffff]]] (also
// HHMMSS; a fraction may follow any component). An empty fraction is
// accepted only when something (an offset) follows.
func parseHHMMSSFF(s []rune, atEnd bool) (c [4]int, ok bool) {
	pos, hasSep := 0, false
	for comp := 0; comp < 3; comp++ {
		if len(s)-pos < 2 {
			return c, false
		}
		v, ok := runesInt(s[pos : pos+2])
		if !ok {
			return c, false
		}
		c[comp] = v
		pos += 2
		if pos >= len(s) {
			break
		}
		next := s[pos]
		if next == '.' || next == ',' {
			break
		}
		if comp == 0 {
			hasSep = next == ':'
		}
		if comp >= 2 {
			break
		}
		if hasSep {
			if next != ':' {
				return c, false
			}
			pos++
		}
	}
	if pos < len(s) {
		if s[pos] != '.' && s[pos] != ',' {
			return c, false
		}
		pos++
		rem := len(s) - pos
		if rem == 0 && atEnd {
			return c, false
		}
		n := min(rem, 6)
		if n > 0 {
			v, ok := runesInt(s[pos : pos+n])
			if !ok {
				return c, false
			}
			for i := n; i < 6; i++ {
				v *= 10
			}
			c[3] = v
		}
		if !isASCIIDigits(s[pos+n:]) {
			return c, false
		}
	}
	return c, true
}

// parseISOTime ports CPython's time parsing of fromisoformat, with an
// optional offset (Z, ±HH, ±HHMM, ±HH:MM, ±HH:MM:SS[.ffffff]).
func parseISOTime(s []rune) (civil, bool) {
	var out civil
	if len(s) < 2 {
		return out, false
	}
	tzPos := -1
	for _, sign := range []rune{'-', '+', 'Z'} {
		for i, r := range s {
			if r == sign {
				tzPos = i
				break
			}
		}
		if tzPos >= 0 {
			break
		}
	}
	timePart := s
	if tzPos >= 0 {
		timePart = s[:tzPos]
	}
	c, ok := parseHHMMSSFF(timePart, tzPos < 0)
	if !ok || c[0] > 23 || c[1] > 59 || c[2] > 59 {
		return out, false
	}
	out.hour, out.minute, out.second, out.micro = c[0], c[1], c[2], c[3]
	if tzPos < 0 {
		return out, true
	}
	out.hasTZ = true
	if tzPos == len(s)-1 && s[tzPos] == 'Z' {
		return out, true
	}
	tz := s[tzPos+1:]
	if len(tz) == 0 || len(tz) == 1 || len(tz) == 3 {
		return out, false
	}
	tc, ok := parseHHMMSSFF(tz, true)
	if !ok {
		return out, false
	}
	off := ((int64(tc[0])*60+int64(tc[1]))*60+int64(tc[2]))*1e6 + int64(tc[3])
	if off >= 24*3600*1e6 {
		return out, false
	}
	if s[tzPos] == '-' {
		off = -off
	}
	out.tzMicros = off
	return out, true
}

// pyFromISODateTime ports datetime.fromisoformat (CPython 3.11, C).
func pyFromISODateTime(text string) (civil, bool) {
	s := []rune(text)
	var out civil
	if len(s) < 7 {
		return out, false
	}
	sep := findISOSeparator(s)
	if sep < 0 || sep > len(s) {
		return out, false
	}
	y, m, d, ok := parseISODate(s[:sep])
	if !ok {
		return out, false
	}
	if sep < len(s) {
		t, ok := parseISOTime(s[sep+1:])
		if !ok {
			return out, false
		}
		out = t
	}
	out.year, out.month, out.day = y, m, d
	return out, true
}

// Python's \s and \d (str patterns) in Go syntax.
const (
	pyS   = `[\t\n\v\f\r \x{1c}-\x{1f}\x{85}\p{Z}]`
	pyD   = `\p{Nd}`
	pyEnd = `\n?$` // Python's $ also matches before a final newline
)

var (
	dateRE     = regexp.MustCompile(`^(` + pyD + `{4})-(` + pyD + `{1,2})-(` + pyD + `{1,2})` + pyEnd)
	timeRE     = regexp.MustCompile(`^(` + pyD + `{1,2}):(` + pyD + `{1,2})(?::(` + pyD + `{1,2})(?:[.,](` + pyD + `{1,6})` + pyD + `{0,6})?)?` + pyEnd)
	datetimeRE = regexp.MustCompile(`^(` + pyD + `{4})-(` + pyD + `{1,2})-(` + pyD + `{1,2})[T ](` + pyD + `{1,2}):(` + pyD + `{1,2})` +
		`(?::(` + pyD + `{1,2})(?:[.,](` + pyD + `{1,6})` + pyD + `{0,6})?)?` + pyS + `*(Z|[+-]` + pyD + `{2}(?::?` + pyD + `{2})?)?` + pyEnd)
)

func groupInt(g string) int {
	n, _ := strconv.Atoi(asciiDigits(g))
	return n
}

func groupMicro(g string) int {
	g = asciiDigits(g)
	if g == "" {
		return 0
	}
	return groupInt(g + strings.Repeat("0", 6-len(g)))
}

// parseDateTime is Django's parse_datetime: fromisoformat, then its
// regular expression.
func parseDateTime(text string) (civil, bool) {
	if c, ok := pyFromISODateTime(text); ok {
		return c, true
	}
	g := datetimeRE.FindStringSubmatch(text)
	if g == nil {
		return civil{}, false
	}
	c := civil{year: groupInt(g[1]), month: groupInt(g[2]), day: groupInt(g[3]), hour: groupInt(g[4]), minute: groupInt(g[5]),
		second: groupInt(g[6]), micro: groupMicro(g[7])}
	if tz := asciiDigits(g[8]); tz != "" {
		c.hasTZ = true
		if tz != "Z" {
			mins := 60 * groupInt(tz[1:3])
			if len(tz) > 3 {
				mins += groupInt(tz[len(tz)-2:])
			}
			if tz[0] == '-' {
				mins = -mins
			}
			if mins <= -24*60 || mins >= 24*60 {
				return civil{}, false
			}
			c.tzMicros = int64(mins) * 60e6
		}
	}
	if !validDate(c.year, c.month, c.day) || c.hour > 23 || c.minute > 59 || c.second > 59 {
		return civil{}, false
	}
	return c, true
}

// parseDate is Django's parse_date.
func parseDate(text string) (civil, bool) {
	s := []rune(text)
	if y, m, d, ok := parseISODate(s); ok {
		return civil{year: y, month: m, day: d}, true
	}
	g := dateRE.FindStringSubmatch(text)
	if g == nil {
		return civil{}, false
	}
	c := civil{year: groupInt(g[1]), month: groupInt(g[2]), day: groupInt(g[3])}
	return c, validDate(c.year, c.month, c.day)
}

// parseTime is Django's parse_time (an offset is dropped).
func parseTime(text string) (civil, bool) {
	s := []rune(text)
	if len(s) > 0 && s[0] == 'T' {
		s = s[1:]
	}
	if c, ok := parseISOTime(s); ok {
		c.hasTZ, c.tzMicros = false, 0
		return c, true
	}
	g := timeRE.FindStringSubmatch(text)
	if g == nil {
		return civil{}, false
	}
	c := civil{hour: groupInt(g[1]), minute: groupInt(g[2]), second: groupInt(g[3]), micro: groupMicro(g[4])}
	return c, c.hour <= 23 && c.minute <= 59 && c.second <= 59
}
