package format_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logpipe-go/logpipe/format"
)

// Python's json (the original's parser) allows space, tab, CR and LF
// around a document and between its tokens, and no other whitespace. The
// expectations were checked with the original's own path, json.load over
// codecs.getreader("utf-8"), in the django venv: every other character,
// even a leading BOM, is refused wherever it appears.
func TestJSONWhitespaceLikePython(t *testing.T) {
	t.Parallel()
	places := []string{
		`%s{"type":"a","version":1,"message":{"a":[1,2]}}`,
		`{"type":"a","version":1,"message":{"a":[1,2]}}%s`,
		`{%s"type":"a","version":1,"message":{"a":[1,2]}}`,
		`{"type"%s:"a","version":1,"message":{"a":[1,2]}}`,
		`{"type":%s"a","version":1,"message":{"a":[1,2]}}`,
		`{"type":"a","version":1,"message":{"a":[1,2]}%s}`,
		`{"type":"a","version":1,"message":{"a":[1%s,2]}}`,
	}
	allowed := []rune{' ', '\t', '\r', '\n'}
	refused := []rune{'\v', '\f', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680,
		0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff}
	for i, p := range places {
		for _, r := range allowed {
			_, err := format.Parse([]byte("json:" + fmt.Sprintf(p, strings.Repeat(string(r), 2))))
			assert.NoError(t, err, "place %d, %U", i, r)
		}
		for _, r := range refused {
			_, err := format.Parse([]byte("json:" + fmt.Sprintf(p, string(r))))
			assert.ErrorIs(t, err, format.ErrInvalidBody, "place %d, %U", i, r)
		}
	}
}
