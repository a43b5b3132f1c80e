package format_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/format"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// mutations returns n record values made by mutating the original's
// vectors and bad inputs in the given format: bytes changed, deleted, or
// inserted (for json, often whitespace, escapes, UTF-8 edge cases and
// tokens Python treats specially).
func mutations(t *testing.T, code string, n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	tokens := []string{" ", "\t", "\n", "\r", "\v", "\f", "\u00a0", "\u0085", "\u2000", "\u2028", "\u3000", "\ufeff",
		"\x00", "\x1f", "\x7f", `"`, `\`, `\u0000`, `\ud800`, `\x`, "NaN", "Infinity", "-Infinity", "-", "0", "01",
		"1e", "1.", ".5", "1e999", "-0", "true", "null", ",", ":", "{", "}", "[", "]", "\xff", "\xc3\xa9", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xc0\xaf", "//", "'"}
	seeds := wireSeeds(t, code)
	out := make([][]byte, 0, n)
	for range n {
		b := bytes.Clone(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			p := r.IntN(len(b) + 1)
			switch r.IntN(3) {
			case 0:
				if p < len(b) {
					b[p] = byte(r.IntN(256))
				}
			case 1:
				ins := string([]byte{byte(r.IntN(256))})
				if code == "json" {
					ins = tokens[r.IntN(len(tokens))]
				}
				b = append(b[:p:p], append([]byte(ins), b[p:]...)...)
			case 2:
				if p < len(b) {
					b = append(b[:p:p], b[p+1:]...)
				}
			}
		}
		out = append(out, append([]byte(code+":"), b...))
	}
	return out
}

// The parsers accept exactly the bodies the original's parser
// (logpipe.format.parse, run in the django venv) parses to a map, over
// thousands of mutations of the original's own records.
func TestParseAgreesWithTheOriginal(t *testing.T) {
	t.Parallel()
	python := testenv.Service(t, testenv.EnvDjango, "the django venv's python")
	values := append(mutations(t, "json", 6000, 1), mutations(t, "msgpack", 6000, 2)...)
	var in strings.Builder
	for _, v := range values {
		in.WriteString(hex.EncodeToString(v) + "\n")
	}
	file := filepath.Join(t.TempDir(), "values.txt")
	require.NoError(t, os.WriteFile(file, []byte(in.String()), 0o600))
	out, err := exec.Command(python, "testdata/parse_like_original.py", file).Output()
	require.NoError(t, err)
	verdicts := strings.Fields(string(out))
	require.Len(t, verdicts, len(values))
	accepted, disagree := 0, 0
	for i, v := range values {
		_, err := format.Parse(v)
		goOK := err == nil || errors.Is(err, format.ErrMissingField)
		pyOK := verdicts[i] == "1"
		if pyOK {
			accepted++
		}
		if goOK != pyOK && disagree < 10 {
			t.Errorf("the original parses %q: %v; format.Parse: %v", v, pyOK, err)
		}
		if goOK != pyOK {
			disagree++
		}
	}
	assert.Zero(t, disagree)
	assert.Greater(t, accepted, 1000, "enough of the mutations are valid to compare acceptance")
	t.Logf("%d values, %d parsed by both", len(values), accepted)
}
