package kinesis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 2)
	cfg := testConfig(t)
	p := newTestProducer(t, cfg)
	ctx := context.Background()

	sent := map[string]backend.Position{}
	for i := range 10 {
		key := []string{"a", "b", ""}[i%3]
		pos, err := p.Send(ctx, backend.Message{Topic: stream, Key: []byte(key), Value: []byte(value(key, i))})
		require.NoError(t, err)
		assert.Equal(t, stream, pos.Topic)
		assert.NotEmpty(t, pos.Shard)
		assert.NotEmpty(t, pos.SequenceNumber)
		sent[value(key, i)] = pos
	}

	db := testenv.SQLite(t)
	c := newTestConsumer(t, cfg, stream, db)
	assert.Equal(t, testRegion, c.Region())
	a := newApplied()
	consumeUntil(t, c, db, a, 10, 30*time.Second)

	got := map[string]backend.Position{}
	for _, vs := range a.byKey {
		for _, v := range vs {
			got[v] = backend.Position{}
		}
	}
	require.Len(t, got, 10)
	for v, n := range a.count {
		assert.Equal(t, 1, n, "value %s applied %d times", v, n)
	}

	// Nothing more: the next fetches are empty and the consumer turns idle.
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for !c.Idle() {
		recs, err := c.Fetch(ctx2)
		require.NoError(t, err)
		require.Empty(t, recs)
	}

	// The offsets table holds the last sequence number of each shard read.
	var rows []offsetstore.KinesisOffset
	require.NoError(t, db.Where("stream = ?", stream).Find(&rows).Error)
	require.NotEmpty(t, rows)
	last := map[string]string{}
	for _, pos := range sent {
		if cmpSeq(pos.SequenceNumber, last[pos.Shard]) > 0 {
			last[pos.Shard] = pos.SequenceNumber
		}
	}
	for _, r := range rows {
		assert.Equal(t, testRegion, r.Region)
		assert.Equal(t, last[r.Shard], r.SequenceNumber, "shard %s", r.Shard)
	}
	assert.Len(t, rows, len(last))
}

// cmpSeq compares two decimal sequence numbers.
func cmpSeq(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
