package clip_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/logpipe-go/logpipe/internal/clip"
)

func TestText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "short", clip.Text("short", 10))
	assert.Equal(t, "0123456789", clip.Text("0123456789", 10))
	assert.Equal(t, "01234…[6 bytes cut]", clip.Text([]byte("0123456789a"), 5))
	big := strings.Repeat("x", 10<<20)
	assert.Equal(t, strings.Repeat("x", clip.Wire)+"…[10485560 bytes cut]", clip.Text(big, clip.Wire))
	// A multi-byte character is not split.
	got := clip.Text("ab€€", 4) // € is 3 bytes: cut after "ab"
	assert.Equal(t, "ab…[6 bytes cut]", got)
	assert.True(t, utf8.ValidString(got))
}

func TestQuote(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `"a\"b"`, clip.Quote("a\"b", 10))
	assert.Equal(t, `"a\nb"…[3 bytes cut]`, clip.Quote([]byte("a\nbcde"), 3))
	assert.Less(t, len(clip.Quote(strings.Repeat("\x00", 10<<20), clip.Wire)), 5*clip.Wire)
}
