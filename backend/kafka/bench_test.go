package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// benchRecordSize is the value size of every benchmark record, the same as
// scripts/bench-kafka.sh gives Kafka's ProducerPerformance.
const benchRecordSize = 200

// benchPartitions is the partition count of every benchmark topic.
const benchPartitions = 4

func benchValue(i int) []byte {
	head := fmt.Sprintf(`json:{"type":"person","version":1,"message":{"id":%d,"name":"`, i)
	return []byte(head + strings.Repeat("x", benchRecordSize-len(head)-3) + `"}}`)
}

func benchMessages(topic string, from, n int) []backend.Message {
	msgs := make([]backend.Message, n)
	for i := range msgs {
		msgs[i] = backend.Message{Topic: topic, Key: []byte(fmt.Sprint((from + i) % 1000)), Value: benchValue(from + i)}
	}
	return msgs
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSendOneAtATime sends records one by one from one goroutine, each
// Send waiting for the broker's acknowledgement (acks=all).
// The acks=1 run is what the original does by default (kafka-python's
// acks=1).
func BenchmarkSendOneAtATime(b *testing.B) {
	for _, acks := range []struct {
		name string
		acks kafka.Acks
	}{{"acks=all", kafka.AcksAll}, {"acks=1", kafka.AcksLeader}} {
		b.Run(acks.name, func(b *testing.B) {
			topic := createTopic(b, benchPartitions)
			cfg := testConfig(b)
			cfg.Acks = acks.acks
			p := newProducer(b, cfg)
			ctx := context.Background()
			msgs := benchMessages(topic, 0, 1000)
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

// BenchmarkSendConcurrent sends records one by one from 64 goroutines (a
// service handling many requests), each Send waiting for its
// acknowledgement; concurrent Sends share produce requests.
func BenchmarkSendConcurrent(b *testing.B) {
	topic := createTopic(b, benchPartitions)
	p := newProducer(b, testConfig(b))
	msgs := benchMessages(topic, 0, 1000)
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := p.Send(context.Background(), msgs[i%len(msgs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	reportRate(b, b.N)
}

// BenchmarkSendBatch sends records through SendBatch, 10,000 a call.
func BenchmarkSendBatch(b *testing.B) {
	topic := createTopic(b, benchPartitions)
	p := newProducer(b, testConfig(b))
	const batch = 10000
	msgs := benchMessages(topic, 0, batch)
	ctx := context.Background()
	b.SetBytes(benchRecordSize)
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += batch {
		n := min(batch, b.N-sent)
		if _, err := p.SendBatch(ctx, msgs[:n]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkConsumeAndApply reads records and applies each in its own
// database transaction (an insert and the offset commit), as a logpipe
// consumer does, into SQLite and PostgreSQL.
func BenchmarkConsumeAndApply(b *testing.B) {
	dbs := map[string]func(testing.TB) *gorm.DB{"sqlite": testenv.SQLite}
	if testenv.Service(b, testenv.EnvPostgres, "PostgreSQL") != "" {
		dbs["postgres"] = testenv.Postgres
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open := dbs[name]
		b.Run(name, func(b *testing.B) {
			topic := createTopic(b, benchPartitions)
			p := newProducer(b, testConfig(b))
			ctx := context.Background()
			for sent := 0; sent < b.N; sent += 10000 {
				if _, err := p.SendBatch(ctx, benchMessages(topic, sent, min(10000, b.N-sent))); err != nil {
					b.Fatal(err)
				}
			}
			db := open(b)
			if err := db.Exec("CREATE TABLE people (id BIGINT PRIMARY KEY, body TEXT NOT NULL)").Error; err != nil {
				b.Fatal(err)
			}
			c := newConsumer(b, testConfig(b), kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: db}})
			fctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			b.ResetTimer()
			applied := 0
			for applied < b.N {
				recs, err := c.Fetch(fctx)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range recs {
					err := db.Transaction(func(tx *gorm.DB) error {
						if err := tx.Exec("INSERT INTO people (id, body) VALUES (?, ?)", r.Offset*benchPartitions+int64(r.Partition), string(r.Value)).Error; err != nil {
							return err
						}
						return c.Commit(fctx, tx, r)
					})
					if err != nil {
						b.Fatal(err)
					}
					applied++
				}
			}
			reportRate(b, applied)
		})
	}
}
