package kinesis

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

func TestThroughputErrorsAreRetriedWithoutLoss(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 3)
	f := newFaults()
	f.throttlePutRecord = 3
	f.throttlePutRecords = 4
	f.failPutRecordsEntry = 3
	f.throttleGetRecords = 3
	cfg := testConfig(t, f.add)
	cfg.FetchLimit = 20
	p := newTestProducer(t, cfg)
	w := newKeyedWriter(t, p, stream, 10)
	w.send(3, false)
	w.send(6, true)
	w.send(3, true)

	db := testenv.SQLite(t)
	a := newApplied()
	consumeUntil(t, newTestConsumer(t, cfg, stream, db), db, a, w.total(), 60*time.Second)
	requireInOrder(t, a, w.next)
	for v, n := range a.count {
		require.Equal(t, 1, n, "value %s applied %d times", v, n)
	}
	assert.Positive(t, f.injectedCount("PutRecord"), "PutRecord throttled")
	assert.Positive(t, f.injectedCount("PutRecords"), "PutRecords throttled")
	assert.Positive(t, f.injectedCount("PutRecordsEntry"), "PutRecords entries failed")
	assert.Positive(t, f.injectedCount("GetRecords"), "GetRecords throttled")
}

func TestExpiredIteratorIsRenewedAfterLastRecord(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 1)
	f := newFaults()
	f.expireAt = 3
	cfg := testConfig(t, f.add)
	cfg.FetchLimit = 5
	p := newTestProducer(t, cfg)
	w := newKeyedWriter(t, p, stream, 4)
	w.send(8, true)

	db := testenv.SQLite(t)
	a := newApplied()
	consumeUntil(t, newTestConsumer(t, cfg, stream, db), db, a, w.total(), 60*time.Second)
	requireInOrder(t, a, w.next)
	assert.Equal(t, 1, f.injectedCount("ExpiredIterator"))
	assert.Equal(t, w.total(), a.len(), "no record read twice")
}

func TestProducerPassesSequenceNumberForOrdering(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 2)
	f := newFaults()
	cfg := testConfig(t, f.add)
	cfg.SeqNumCacheSize = 2
	p := newTestProducer(t, cfg)
	ctx := context.Background()
	send := func(key string) backend.Position {
		pos, err := p.Send(ctx, backend.Message{Topic: stream, Key: []byte(key), Value: []byte("v")})
		require.NoError(t, err)
		return pos
	}
	a1 := send("a")
	b1 := send("b")
	a2 := send("a")
	send("") // no key: a random partition key, not remembered
	c1 := send("c")
	send("b") // b was evicted by c (cache of 2: a, c)
	send("c")

	puts := f.captured()
	require.Len(t, puts, 7)
	assert.Equal(t, "", puts[0].seqForOrdering, "first record of a key")
	assert.Equal(t, "", puts[1].seqForOrdering)
	assert.Equal(t, a1.SequenceNumber, puts[2].seqForOrdering, "second a follows the first")
	assert.Len(t, puts[3].key, 32, "random partition key for an unkeyed message")
	assert.Equal(t, "", puts[3].seqForOrdering)
	assert.Equal(t, "", puts[4].seqForOrdering)
	assert.Equal(t, "", puts[5].seqForOrdering, "b was evicted")
	assert.Equal(t, c1.SequenceNumber, puts[6].seqForOrdering)
	_ = b1
	_ = a2

	// A batch updates the cache: the next Send of a key follows the batch.
	poss, err := p.SendBatch(ctx, []backend.Message{
		{Topic: stream, Key: []byte("a"), Value: []byte("1")},
		{Topic: stream, Key: []byte("a"), Value: []byte("2")},
	})
	require.NoError(t, err)
	send("a")
	puts = f.captured()
	assert.Equal(t, poss[1].SequenceNumber, puts[len(puts)-1].seqForOrdering)
}

// Review finding 4 against the emulator: a stream deleted while the
// consumer reads it stops Fetch with a *MissingStreamError.
func TestDeletedStreamStopsFetch(t *testing.T) {
	t.Parallel()
	stream := createStream(t, 1)
	cfg := testConfig(t)
	p := newTestProducer(t, cfg)
	w := newKeyedWriter(t, p, stream, 2)
	w.send(2, true)
	db := testenv.SQLite(t)
	c := newTestConsumer(t, cfg, stream, db)
	a := newApplied()
	consumeUntil(t, c, db, a, w.total(), 30*time.Second)

	_, err := adminClient(t).DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, err = c.Fetch(ctx)
		if err != nil {
			break
		}
	}
	require.NoError(t, ctx.Err(), "Fetch never reported the deleted stream")
	var missing *MissingStreamError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, stream, missing.Stream)
}
