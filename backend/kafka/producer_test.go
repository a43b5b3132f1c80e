package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend/kafka"
)

func TestSendReturnsPartitionAndOffset(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 4)
	p := newProducer(t, testConfig(t))
	ctx := ctxTimeout(t, 30*time.Second)

	next := map[int32]int64{}
	for i := range 20 {
		key := fmt.Sprintf("key-%d", i%5)
		pos, err := p.Send(ctx, msg(topic, key, fmt.Sprintf("json:{\"i\":%d}", i)))
		require.NoError(t, err)
		assert.Equal(t, topic, pos.Topic)
		assert.Equal(t, kafka.PartitionForKey([]byte(key), 4), pos.Partition, "key %s", key)
		assert.Equal(t, next[pos.Partition], pos.Offset, "offsets of a partition follow each other")
		next[pos.Partition] = pos.Offset + 1
	}
}
