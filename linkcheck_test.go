package logpipe_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A program that imports only the root package and backend/memory (the
// quickstart) links neither kafka-go nor the AWS SDK: the root package
// imports no backend. go version -m lists the modules a binary links.
func TestMemoryOnlyProgramLinksNoKafkaOrAWS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command(goBin, "build", "-o", bin, "./examples/quickstart")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(goBin, "version", "-m", bin).CombinedOutput()
	require.NoError(t, err, "%s", out)
	mods := string(out)
	require.Contains(t, mods, "gorm.io/gorm", "go version -m lists the linked modules")
	for _, banned := range []string{"github.com/segmentio/kafka-go", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"} {
		assert.NotContains(t, mods, banned, "a memory-only program links %s", banned)
	}
	var n int
	for _, line := range strings.Split(mods, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "dep") {
			n++
		}
	}
	t.Logf("the quickstart links %d modules", n)
}
