package kafka_test

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// admin is a kafka-go client of the test broker, for creating and deleting
// topics.
func admin(t testing.TB) *kafkago.Client {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	tr := &kafkago.Transport{MetadataTTL: time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr, Timeout: 30 * time.Second}
}

// createTopic creates a topic with a unique name and n partitions, deleted
// when the test ends.
func createTopic(t testing.TB, n int) string {
	t.Helper()
	topic := testenv.Name("lp-kafka")
	cl := admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: n, ReplicationFactor: 1,
	}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = cl.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})
	return topic
}

// addPartitions grows topic to n partitions.
func addPartitions(t testing.TB, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := admin(t).CreatePartitions(ctx, &kafkago.CreatePartitionsRequest{Topics: []kafkago.TopicPartitionsConfig{{
		Name: topic, Count: int32(n),
	}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
}

// testConfig is a Config for the test broker with short intervals.
func testConfig(t testing.TB) kafka.Config {
	return kafka.Config{
		Brokers:         testenv.KafkaBrokers(t),
		PollInterval:    200 * time.Millisecond,
		MetadataRefresh: time.Second,
	}
}

func newProducer(t testing.TB, cfg kafka.Config) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func msg(topic, key, value string) backend.Message {
	return backend.Message{Topic: topic, Key: []byte(key), Value: []byte(value)}
}

func newConsumer(t testing.TB, cfg kafka.Config, opts kafka.ConsumerOptions) *kafka.Consumer {
	t.Helper()
	c, err := kafka.NewConsumer(cfg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// consume fetches until n records arrived (failing after the deadline),
// committing each with commit when it is not nil.
func consume(t testing.TB, c *kafka.Consumer, n int, commit func(backend.Record)) []backend.Record {
	t.Helper()
	ctx := ctxTimeout(t, 60*time.Second)
	var got []backend.Record
	for len(got) < n {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err, "after %d of %d records", len(got), n)
		for _, r := range recs {
			got = append(got, r)
			if commit != nil {
				commit(r)
			}
		}
	}
	return got
}

// assertNoMore fetches for a while and fails if any record arrives.
func assertNoMore(t testing.TB, c *kafka.Consumer) {
	t.Helper()
	ctx := ctxTimeout(t, 10*time.Second)
	for range 3 {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err)
		require.Empty(t, recs)
	}
}
