package kinesis_test

import (
	"testing"

	"github.com/logpipe-go/logpipe/backend/backendtest"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The conformance suite on the emulator. Kinesis records have no headers:
// the one feature it declares unsupported.
func TestConformance(t *testing.T) {
	t.Parallel()
	b := e2eSettings(t, nil).Backend.(*kinesis.Backend)
	backendtest.Run(t, backendtest.Harness{
		Backend:     b,
		CreateTopic: func(t *testing.T, shards int) string { return e2eStream(t, int32(shards)) },
		DB:          testenv.SQLite,
		Features: backendtest.Features{
			NoHeaders:    "Kinesis records have no headers",
			PollInterval: b.Config().PollInterval,
		},
	})
}
