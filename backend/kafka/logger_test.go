package kafka_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// Settings.Logger reaches the backend: the Kafka consumer's own logs (here
// its debug line for each partition it reads) go to it.
func TestSettingsLoggerReachesTheBackend(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 2)
	var buf testenv.Buffer
	s := kafkaSettings(t, testenv.SQLite(t))
	s.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := logpipe.NewProducer(context.Background(), s, topic)
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Send(ctxTimeout(t, 30e9), &eventV1{ID: 1})
	require.NoError(t, err)
	runConsumer(t, s, topic, &eventV1{})
	out := buf.String()
	assert.Contains(t, out, "logpipe/kafka: reading partition", "the backend logs through Settings.Logger")
	assert.Contains(t, out, "topic="+topic)
}

// The producer the backend opens for logpipe logs through
// ProducerOptions.Logger unless Config.Logger is set.
func TestProducerOptionsLogger(t *testing.T) {
	t.Parallel()
	var buf testenv.Buffer
	cfg := testConfig(t)
	cfg.Brokers = []string{"127.0.0.1:1"} // nothing listens: every request is refused
	cfg.SendTimeout = 1e9
	s := logpipe.Settings{Backend: kafkaBackend(cfg), Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	p, err := logpipe.NewProducer(context.Background(), s, "t")
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Send(context.Background(), &eventV1{ID: 1})
	require.Error(t, err)
	assert.NotErrorIs(t, err, backend.ErrClosed)
	assert.Contains(t, buf.String(), "logpipe/kafka", "the refused requests were logged through Settings.Logger")
}

func kafkaBackend(cfg kafka.Config) *kafka.Backend { return kafka.New(cfg) }
