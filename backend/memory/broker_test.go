package memory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

func TestKeysStickToAPartitionAndOrderHolds(t *testing.T) {
	t.Parallel()
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("t", 4))
	ctx := context.Background()
	p, err := b.NewProducer(ctx, backend.ProducerOptions{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 { // concurrent senders, one key each
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_, err := p.Send(ctx, backend.Message{Topic: "t", Key: []byte(fmt.Sprint("key-", g)), Value: []byte(fmt.Sprint(i))})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int32{}
	next := map[string]int{}
	total := 0
	for part := range int32(4) {
		for i, r := range b.Records("t", part) {
			assert.Equal(t, int64(i), r.Offset)
			k := string(r.Key)
			if prev, ok := seen[k]; ok {
				assert.Equal(t, prev, part, "a key stays on one partition")
			}
			seen[k] = part
			assert.Equal(t, fmt.Sprint(next[k]), string(r.Value), "a key's records keep their order")
			next[k]++
			total++
		}
	}
	assert.Equal(t, 400, total)
}

func TestConsumerResumesAndSeesNewPartitions(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	store := &offsetstore.Kafka{DB: db}
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("t", 1))
	ctx := context.Background()
	p, err := b.NewProducer(ctx, backend.ProducerOptions{})
	require.NoError(t, err)
	send := func(key string) {
		_, err := p.Send(ctx, backend.Message{Topic: "t", Key: []byte(key), Value: []byte("v")})
		require.NoError(t, err)
	}
	send("a")
	send("b")
	c, err := b.NewConsumer(ctx, backend.ConsumerOptions{Topic: "t", Offsets: store})
	require.NoError(t, err)
	recs, err := c.Fetch(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.NoError(t, c.Commit(ctx, nil, recs[0])) // only the first applied
	require.NoError(t, c.Close())

	require.NoError(t, b.CreateTopic("t", 3))
	c, err = b.NewConsumer(ctx, backend.ConsumerOptions{Topic: "t", Offsets: store})
	require.NoError(t, err)
	recs, err = c.Fetch(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 1, "resumes after the committed record")
	assert.Equal(t, "b", string(recs[0].Key))
	for _, k := range []string{"x", "y", "z", "w"} {
		send(k)
	}
	got := 0
	for got < 4 {
		recs, err = c.Fetch(ctx)
		require.NoError(t, err)
		got += len(recs)
	}
	assert.Equal(t, 4, got)
	assert.Equal(t, 3, b.Partitions("t"))
	recs, err = c.Fetch(ctx)
	require.NoError(t, err)
	assert.Empty(t, recs, "an empty fetch after the poll interval")
}
