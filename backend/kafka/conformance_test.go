package kafka_test

import (
	"testing"
	"time"

	"github.com/logpipe-go/logpipe/backend/backendtest"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The conformance suite on the real broker. Kafka claims every feature.
func TestConformance(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SendTimeout = 10 * time.Second
	backendtest.Run(t, backendtest.Harness{
		Backend:     kafka.New(cfg),
		CreateTopic: func(t *testing.T, partitions int) string { return createTopic(t, partitions) },
		DB:          testenv.SQLite,
		Features:    backendtest.Features{PollInterval: cfg.PollInterval},
	})
}
