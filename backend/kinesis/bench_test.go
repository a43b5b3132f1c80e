package kinesis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The benchmarks measure what a user calls, logpipe's Producer and
// Consumer on this backend, against the emulator
// (LOGPIPE_TEST_KINESIS_ENDPOINT; skipped without one). Their figures are
// the emulator's more than the library's: scripts/bench reports Kinesis as
// ratios to the Python original on the same emulator (docs/kinesis-bench.md).

const benchShards = 4

func benchPeople(n int) []logpipe.Message {
	msgs := make([]logpipe.Message, n)
	for i := range msgs {
		msgs[i] = &people.PersonV1{UUID: people.UUID(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Append(nil, i))), FirstName: fmt.Sprint("Given", i), LastName: "Schmoe"}
	}
	return msgs
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// benchProducer returns a logpipe Producer of a new stream.
func benchProducer(b *testing.B) (*logpipe.Producer, Config) {
	b.Helper()
	cfg := testConfig(b)
	stream := createStream(b, benchShards)
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: New(cfg)}, stream)
	require.NoError(b, err)
	b.Cleanup(func() { _ = p.Close() })
	return p, cfg
}

// sendAll sends msgs through SendBatch, 500 a call (one PutRecords each).
func sendAll(b *testing.B, p *logpipe.Producer, msgs []logpipe.Message) {
	b.Helper()
	for i := 0; i < len(msgs); i += maxBatchRecords {
		if _, err := p.SendBatch(context.Background(), msgs[i:min(i+maxBatchRecords, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProducerSend is Producer.Send, one record (one PutRecord) at a
// time.
func BenchmarkProducerSend(b *testing.B) {
	p, _ := benchProducer(b)
	msgs := benchPeople(b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Send(ctx, msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkProducerSendBatch is Producer.SendBatch, 500 records a call.
func BenchmarkProducerSendBatch(b *testing.B) {
	p, _ := benchProducer(b)
	msgs := benchPeople(b.N)
	b.ResetTimer()
	sendAll(b, p, msgs)
	reportRate(b, b.N)
}

// BenchmarkConsumerApply is Consumer.Run applying b.N people (the people
// serializer: a lookup, then an insert) into SQLite, one transaction per
// record with its position. Filling the stream is not timed.
func BenchmarkConsumerApply(b *testing.B) {
	p, cfg := benchProducer(b)
	sendAll(b, p, benchPeople(b.N))
	db := testenv.SQLite(b)
	require.NoError(b, db.AutoMigrate(&people.Person{}))
	c, err := logpipe.NewConsumer(logpipe.Settings{Backend: New(cfg), DB: db}, p.Topic(), logpipe.WithLimit(b.N), logpipe.WithThrowErrors())
	require.NoError(b, err)
	require.NoError(b, c.Register(&people.PersonV1{}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	require.NoError(b, c.Run(ctx))
	b.StopTimer()
	reportRate(b, b.N)
}
