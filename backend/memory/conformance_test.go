package memory_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend/backendtest"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The conformance suite on the in-memory broker, which claims every feature.
func TestConformance(t *testing.T) {
	t.Parallel()
	b := memory.NewBroker()
	var n atomic.Int64
	backendtest.Run(t, backendtest.Harness{
		Backend: b,
		CreateTopic: func(t *testing.T, partitions int) string {
			name := fmt.Sprint("topic-", n.Add(1))
			require.NoError(t, b.CreateTopic(name, partitions))
			return name
		},
		DB:       testenv.SQLite,
		Features: backendtest.Features{PollInterval: memory.DefaultPollInterval},
	})
}
