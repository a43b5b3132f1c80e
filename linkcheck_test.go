package logpipe_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quickstart struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// quickstartBinary builds ./examples/quickstart once for the package.
func quickstartBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a program")
	}
	quickstart.once.Do(func() {
		dir, err := os.MkdirTemp("", "logpipe-quickstart-")
		if err != nil {
			quickstart.err = err
			return
		}
		quickstart.bin = filepath.Join(dir, "quickstart")
		build := exec.Command("go", "build", "-o", quickstart.bin, "./examples/quickstart")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		quickstart.out, quickstart.err = build.CombinedOutput()
	})
	require.NoError(t, quickstart.err, "%s", quickstart.out)
	return quickstart.bin
}

// A program that imports only the root package and backend/memory (the
// quickstart) links neither kafka-go nor the AWS SDK: the root package
// imports no backend. go version -m lists the modules a binary links.
func TestMemoryOnlyProgramLinksNoKafkaOrAWS(t *testing.T) {
	t.Parallel()
	bin := quickstartBinary(t)
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
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

// The quickstart, the README's first command, runs and shows what it says:
// the applied rows, the offsets and the dead-lettered invalid record.
func TestQuickstartRuns(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(quickstartBinary(t)).Output()
	require.NoError(t, err)
	for _, want := range []string{
		"sent person v2 to people/0@3",
		"9f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a01 Joe Schmoe <joe@example.com>",
		"9f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a02 Jane Doe <->",
		"offset: topic people partition 0 next 4",
		"dead letter 1: people/0@2 (validation)",
	} {
		assert.Contains(t, string(out), want)
	}
}
