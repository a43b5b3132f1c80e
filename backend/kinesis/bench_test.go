package kinesis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The benchmarks run against the emulator (LOGPIPE_TEST_KINESIS_ENDPOINT);
// docs/kinesis-bench.md has figures and how to reproduce them.

const benchShards = 4

func benchMessages(stream string, n int) []backend.Message {
	msgs := make([]backend.Message, n)
	for i := range msgs {
		key := fmt.Sprintf("key-%d", i)
		msgs[i] = backend.Message{Topic: stream, Key: []byte(key), Value: []byte(`json:{"type":"bench","version":1,"message":{"key":"` + key + `","n":` + fmt.Sprint(i) + `}}`)}
	}
	return msgs
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkProducerSend writes records one at a time with PutRecord.
func BenchmarkProducerSend(b *testing.B) {
	stream := createStream(b, benchShards)
	p := newTestProducer(b, testConfig(b))
	msgs := benchMessages(stream, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Send(ctx, msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkProducerSendBatch writes records 500 at a time with PutRecords,
// each with its own key.
func BenchmarkProducerSendBatch(b *testing.B) {
	stream := createStream(b, benchShards)
	p := newTestProducer(b, testConfig(b))
	msgs := benchMessages(stream, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < len(msgs); i += maxBatchRecords {
		if _, err := p.SendBatch(ctx, msgs[i:min(i+maxBatchRecords, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkConsumerApply reads b.N records from every shard and commits each
// record's position in its own SQLite transaction, as logpipe's consumer
// does by default.
func BenchmarkConsumerApply(b *testing.B) {
	stream := createStream(b, benchShards)
	cfg := testConfig(b)
	p := newTestProducer(b, cfg)
	msgs := benchMessages(stream, b.N)
	ctx := context.Background()
	for i := 0; i < len(msgs); i += maxBatchRecords {
		if _, err := p.SendBatch(ctx, msgs[i:min(i+maxBatchRecords, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	db := testenv.SQLite(b)
	c := newTestConsumer(b, cfg, stream, db)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	n := 0
	for n < b.N {
		recs, err := c.Fetch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := db.Transaction(func(tx *gorm.DB) error { return c.Commit(ctx, tx, r) }); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	reportRate(b, b.N)
}
