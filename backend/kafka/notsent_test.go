package kafka_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// TestFailedRequestFailsTheRecordsQueuedBehindIt sends a record the broker
// refuses (larger than its message.max.bytes) followed by a small one to the
// same partition: the small one must not be written, so that sending both
// again keeps their order.
func TestFailedRequestFailsTheRecordsQueuedBehindIt(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 1)
	cfg := testConfig(t)
	p := newProducer(t, cfg)
	ctx := ctxTimeout(t, 60*time.Second)
	big := bytes.Repeat([]byte("x"), 2<<20)
	poss, err := p.SendBatch(ctx, []backend.Message{
		{Topic: topic, Key: []byte("k"), Value: big},
		msg(topic, "k", "json:{\"after\":1}"),
	})
	require.Error(t, err)
	var notSent *kafka.NotSentError
	require.True(t, errors.As(err, &notSent), "the second record is reported as not sent: %v", err)
	assert.Equal(t, topic, notSent.Topic)
	assert.EqualValues(t, 0, notSent.Partition)
	assert.Contains(t, err.Error(), "not sent, because an earlier record to that partition failed")
	assert.Equal(t, backend.Position{}, poss[1], "no position for the record not sent")

	// Nothing reached the topic: a record sent now is its first.
	pos, err := p.Send(ctx, msg(topic, "k", "json:{}"))
	require.NoError(t, err)
	assert.EqualValues(t, 0, pos.Offset)
	c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	got := consume(t, c, 1, nil)
	assert.Equal(t, "json:{}", string(got[0].Value))
	assertNoMore(t, c)
}
