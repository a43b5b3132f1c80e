package logpipe_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The metrics, tracing and command-line dependencies stay with their users:
// the library's packages (the root, the backends, offsetstore, format)
// depend on neither the Prometheus client, OpenTelemetry nor cobra, and
// only examples (and the plugins' own tests) import the plugin packages. A program that uses neither
// plugin links neither.
func TestAdaptersAreLinkedOnlyByTheirUsers(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".", "./backend/...", "./offsetstore", "./format").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := string(out)
	require.Contains(t, deps, "gorm.io/gorm", "go list -deps lists the dependencies")
	for _, banned := range []string{"github.com/prometheus/", "go.opentelemetry.io/", "github.com/spf13/cobra", "github.com/logpipe-go/logpipe/plugin/"} {
		assert.NotContains(t, deps, banned, "the library depends on %s", banned)
	}

	out, err = exec.Command(goBin, "list", "-test", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var importers []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		pkg, _, _ = strings.Cut(pkg, " ") // "p [p.test]" for test variants
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, "github.com/logpipe-go/logpipe/plugin/") && !strings.HasPrefix(pkg, imp) {
				importers = append(importers, pkg+" imports "+imp)
			}
		}
	}
	require.NotEmpty(t, importers, "examples/service imports logpipeprom")
	for _, imp := range importers {
		ok := strings.HasPrefix(imp, "github.com/logpipe-go/logpipe/examples/") || strings.HasPrefix(imp, "github.com/logpipe-go/logpipe/plugin/")
		assert.True(t, ok, "only examples (and the plugins' own tests) import the plugins: %s", imp)
	}
}
