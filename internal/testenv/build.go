package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// built holds the programs Build made in this test process, each once.
var built sync.Map // package path -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the program in pkg (a package path relative to the test's
// directory, such as "./child") once per test process, however many tests
// ask, and returns the binary's path. The binaries live in one temporary
// folder that CleanupBuilds removes (call it from TestMain after m.Run).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := built.LoadOrStore(pkg, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		dir, err := buildDir()
		if err != nil {
			r.err = err
			return
		}
		r.path = filepath.Join(dir, fmt.Sprintf("%s-%d", filepath.Base(pkg), len(pkg)))
		out, err := exec.Command("go", "build", "-o", r.path, pkg).CombinedOutput()
		if err != nil {
			r.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

var (
	dirOnce sync.Once
	dirPath string
	dirErr  error
)

func buildDir() (string, error) {
	dirOnce.Do(func() { dirPath, dirErr = os.MkdirTemp("", "logpipe-test-bin-") })
	return dirPath, dirErr
}

// CleanupBuilds removes what Build made.
func CleanupBuilds() {
	if dirPath != "" {
		_ = os.RemoveAll(dirPath)
	}
}
