package kafka

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// TestRevokeDropsThePartition checks the hook group assignment uses: a
// revoked partition's reader stops and its pending records are not
// returned.
func TestRevokeDropsThePartition(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.Name("lp-kafka-revoke")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	admin := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}
	_, err := admin.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}}})
	require.NoError(t, err)
	defer admin.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{topic}}) //nolint:errcheck

	cfg := Config{Brokers: brokers, PollInterval: 200 * time.Millisecond, MetadataRefresh: time.Second}
	p, err := NewProducer(cfg)
	require.NoError(t, err)
	defer p.Close()
	var msgs []backend.Message
	for i := range 200 {
		msgs = append(msgs, backend.Message{Topic: topic, Key: []byte{byte(i)}, Value: []byte("json:{}")})
	}
	_, err = p.SendBatch(ctx, msgs)
	require.NoError(t, err)

	c, err := NewConsumer(cfg, ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.start(ctx))
	c.mu.Lock()
	c.revoke([]int32{1})
	assert.Len(t, c.readers, 1)
	c.mu.Unlock()

	seen := 0
	for range 5 {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err)
		for _, r := range recs {
			assert.EqualValues(t, 0, r.Partition, "no record of the revoked partition")
			seen++
		}
	}
	assert.Positive(t, seen, "partition 0 is still read")
}
