package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// The benchmarks of this file measure what a user calls: logpipe's
// Producer and Consumer on the Kafka backend, against the broker of
// LOGPIPE_TEST_KAFKA_BROKERS (skipped without one). scripts/bench runs the
// same work in separate processes, next to the Python original and
// Kafka's own tools, with the ratios (BENCHMARKS.md).

// benchRecordSize is the value size of the records the memory tests
// (memory_test.go) write.
const benchRecordSize = 200

// benchPartitions is the partition count of every benchmark topic.
const benchPartitions = 4

func benchValue(i int) []byte {
	head := fmt.Sprintf(`json:{"type":"person","version":1,"message":{"id":%d,"name":"`, i)
	return []byte(head + strings.Repeat("x", benchRecordSize-len(head)-3) + `"}}`)
}

func benchPerson(i int) *people.PersonV1 {
	return &people.PersonV1{UUID: people.UUID(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Append(nil, i/2))), FirstName: fmt.Sprint("Given", i), LastName: "Schmoe"}
}

func benchPeople(from, n int) []logpipe.Message {
	msgs := make([]logpipe.Message, n)
	for i := range msgs {
		msgs[i] = benchPerson(from + i)
	}
	return msgs
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// benchProducer returns a logpipe Producer of a new topic.
func benchProducer(b *testing.B, cfg kafka.Config) *logpipe.Producer {
	b.Helper()
	topic := createTopic(b, benchPartitions)
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: kafka.New(cfg)}, topic)
	require.NoError(b, err)
	b.Cleanup(func() { _ = p.Close() })
	// The first request looks the topic up: outside the measure.
	_, err = p.Send(context.Background(), benchPerson(-1))
	require.NoError(b, err)
	return p
}

// BenchmarkSendOneAtATime is Producer.Send from one goroutine, each Send
// waiting for the broker's acknowledgement: acks=all (the default) and
// acks=1 (kafka-python's default, so the original's).
func BenchmarkSendOneAtATime(b *testing.B) {
	for _, acks := range []struct {
		name string
		acks kafka.Acks
	}{{"acks=all", kafka.AcksAll}, {"acks=1", kafka.AcksLeader}} {
		b.Run(acks.name, func(b *testing.B) {
			cfg := testConfig(b)
			cfg.Acks = acks.acks
			p := benchProducer(b, cfg)
			msgs := benchPeople(0, 1000)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Send(ctx, msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N)
		})
	}
}

// BenchmarkSendConcurrent is Producer.Send from 64 goroutines (a service
// handling many requests), each Send waiting for its acknowledgement;
// concurrent Sends share produce requests.
func BenchmarkSendConcurrent(b *testing.B) {
	p := benchProducer(b, testConfig(b))
	msgs := benchPeople(0, 1000)
	var next atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Send(context.Background(), msgs[next.Add(1)%int64(len(msgs))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, b.N)
}

// BenchmarkSendBatch is Producer.SendBatch, 10,000 records a call.
func BenchmarkSendBatch(b *testing.B) {
	p := benchProducer(b, testConfig(b))
	const batch = 10000
	msgs := benchPeople(0, batch)
	ctx := context.Background()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += batch {
		if _, err := p.SendBatch(ctx, msgs[:min(batch, b.N-sent)]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkConsumeAndApply is Consumer.Run applying b.N people (the people
// serializer: a lookup, then an insert or an update) into SQLite (WAL) and
// PostgreSQL, with the offsets in the same transaction, 1 and 100 records
// per transaction. Filling the topic is not timed.
func BenchmarkConsumeAndApply(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) *gorm.DB // skips without the server
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		for _, size := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/tx=%d", db.name, size), func(b *testing.B) {
				cfg := testConfig(b)
				gdb := db.open(b)
				require.NoError(b, gdb.AutoMigrate(&people.Person{}))
				topic := createTopic(b, benchPartitions)
				ctx := context.Background()
				p, err := logpipe.NewProducer(ctx, logpipe.Settings{Backend: kafka.New(cfg)}, topic)
				require.NoError(b, err)
				b.Cleanup(func() { _ = p.Close() })
				for sent := 0; sent < b.N; sent += 10000 {
					_, err := p.SendBatch(ctx, benchPeople(sent, min(10000, b.N-sent)))
					require.NoError(b, err)
				}
				c, err := logpipe.NewConsumer(logpipe.Settings{Backend: kafka.New(cfg), DB: gdb}, topic,
					logpipe.WithTransactionSize(size), logpipe.WithLimit(b.N), logpipe.WithThrowErrors())
				require.NoError(b, err)
				require.NoError(b, c.Register(&people.PersonV1{}))
				rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
				defer cancel()
				b.ResetTimer()
				require.NoError(b, c.Run(rctx))
				b.StopTimer()
				reportRate(b, b.N)
			})
		}
	}
}
