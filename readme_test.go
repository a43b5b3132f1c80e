package logpipe_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's code blocks marked <!-- readme:NAME --> are the lines between
// "// readme:begin NAME" and "// readme:end NAME" of a Go file that runs in
// the tests, so that what the README shows runs as pasted.
func TestReadmeBlocksAreTestedCode(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)<!-- readme:([a-z-]+) -->\\s*```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks, "the README marks its tested blocks")
	sources := map[string]string{}
	for _, f := range []string{"example_settings_test.go", "outbox/example_test.go"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`(?s)// readme:begin ([a-z-]+)\n(.*?)\n\s*// readme:end `).FindAllStringSubmatch(string(b), -1) {
			sources[m[1]] = dedent(m[2])
		}
	}
	for _, b := range blocks {
		src, ok := sources[b[1]]
		if assert.True(t, ok, "README block %q has no tested source", b[1]) {
			assert.Equal(t, src, strings.TrimRight(b[2], "\n"), "README block %q differs from its tested source", b[1])
		}
	}
}

// dedent removes the tab indentation the lines share.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
