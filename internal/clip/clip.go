// Package clip shortens text taken from the wire (a record's type, version,
// key, format code, or an error that quotes them) before it goes into an
// error message or a log line, so that a 10 MB type cannot make a 20 MB log
// line.
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Wire is how many bytes of one wire value an error or log line keeps.
const Wire = 200

// Cause is how many bytes of an error's cause an error message keeps. Causes
// quote wire values already clipped (or clipped by the JSON decoder); this
// bounds the rest, such as an application's own error text.
const Cause = 1000

// Text returns s when it is at most max bytes long, else its first max
// bytes (cut back to a UTF-8 boundary) followed by a marker saying how many
// bytes were cut, such as "…[9999800 bytes cut]".
func Text[T ~string | ~[]byte](s T, max int) string {
	if len(s) <= max {
		return string(s)
	}
	cut := prefix(s, max)
	return string(s[:cut]) + marker(len(s)-cut)
}

// Quote is strconv.Quote of Text(s, max), with the marker outside the
// quotes: "abc"…[12 bytes cut].
func Quote[T ~string | ~[]byte](s T, max int) string {
	if len(s) <= max {
		return strconv.Quote(string(s))
	}
	cut := prefix(s, max)
	return strconv.Quote(string(s[:cut])) + marker(len(s)-cut)
}

// prefix returns where to cut s to keep at most max bytes without splitting
// a UTF-8 sequence (when s is valid UTF-8 there).
func prefix[T ~string | ~[]byte](s T, max int) int {
	cut := max
	for back := 0; cut > 0 && back < utf8.UTFMax && !utf8.RuneStart(s[cut]); back++ {
		cut--
	}
	return cut
}

func marker(n int) string {
	return "…[" + strconv.Itoa(n) + " bytes cut]"
}
