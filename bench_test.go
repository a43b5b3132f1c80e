package logpipe_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
)

// The benchmarks of this file measure what a user calls (Producer.Send,
// Consumer.Run) on the memory broker, so they need no server. The same
// work against a real broker and databases, next to the Python original
// and Kafka's own tools, is scripts/bench (BENCHMARKS.md).

// BenchmarkSendMemory is Producer.Send into the memory broker: rendering
// the message, its key and the envelope, in each format.
func BenchmarkSendMemory(b *testing.B) {
	for _, f := range []string{"json", "msgpack"} {
		b.Run(f, func(b *testing.B) {
			s := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), Format: f, ProducerID: "bench"}
			p, err := logpipe.NewProducer(context.Background(), s, "bench")
			require.NoError(b, err)
			b.Cleanup(func() { _ = p.Close() })
			msg := person(1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Send(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fillMemory sends n people through SendBatch and returns a consumer of
// them with the given options.
func fillMemory(b *testing.B, s logpipe.Settings, n int, opts ...logpipe.ConsumerOption) *logpipe.Consumer {
	b.Helper()
	p, err := logpipe.NewProducer(context.Background(), s, "bench")
	require.NoError(b, err)
	b.Cleanup(func() { _ = p.Close() })
	batch := make([]logpipe.Message, n)
	for i := range batch {
		batch[i] = person(i)
	}
	_, err = p.SendBatch(context.Background(), batch)
	require.NoError(b, err)
	c, err := logpipe.NewConsumer(s, "bench", append(opts, logpipe.WithLimit(n))...)
	require.NoError(b, err)
	return c
}

// runTimed runs c (b.N records) as the only timed part and reports
// records per second.
func runTimed(b *testing.B, c *logpipe.Consumer) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	require.NoError(b, c.Run(ctx))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkConsumeApplySQLite is Consumer.Run applying b.N people from the
// memory broker into SQLite (WAL): the people serializer's lookup, then
// insert or update, and the offset commit, one transaction per record (the
// original's behaviour) and 100 per transaction (WithTransactionSize).
func BenchmarkConsumeApplySQLite(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("tx=%d", size), func(b *testing.B) {
			s, _ := memorySettings(b)
			c := fillMemory(b, s, b.N, logpipe.WithTransactionSize(size))
			require.NoError(b, c.Register(&people.PersonV1{}))
			runTimed(b, c)
		})
	}
}

// noopPerson is a person message whose save does nothing.
type noopPerson struct{ people.PersonV1 }

func (*noopPerson) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }
func (*noopPerson) Save(context.Context, *gorm.DB, any) error             { return nil }

// BenchmarkReadDispatchMemory is Consumer.Run on the memory broker with a
// save that does nothing, 1,000 records per transaction: parsing the
// envelope, finding the serializer, decoding and validating the message,
// and committing offsets (SQLite).
func BenchmarkReadDispatchMemory(b *testing.B) {
	s, _ := memorySettings(b)
	c := fillMemory(b, s, b.N, logpipe.WithTransactionSize(1000))
	require.NoError(b, c.Register(&noopPerson{}))
	b.ReportAllocs()
	runTimed(b, c)
}
