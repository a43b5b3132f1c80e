package logpipe_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/format"
	"github.com/logpipe-go/logpipe/internal/people"
)

// BenchmarkRender renders a person message as the producer does: message,
// key and envelope, to the memory broker's record (json and msgpack).
func BenchmarkRender(b *testing.B) {
	msg := &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: "Schmoe"}
	for _, f := range []string{"json", "msgpack"} {
		b.Run(f, func(b *testing.B) {
			codec, err := format.Lookup(f)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				body, err := format.Marshal(msg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := format.Render(codec, &format.Envelope{Type: msg.MessageType(), Version: msg.Version(), Message: body, Producer: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSendMemory is Producer.Send into the memory broker: rendering
// plus the key, through the public API.
func BenchmarkSendMemory(b *testing.B) {
	s := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1))}
	p, err := logpipe.NewProducer(context.Background(), s, "bench")
	require.NoError(b, err)
	msg := &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: "Schmoe"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Send(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsumeApplySQLite sends b.N people through the memory broker
// and times a consumer applying them into SQLite, one transaction per record
// (the original's behaviour) and 100 per transaction.
func BenchmarkConsumeApplySQLite(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("tx=%d", size), func(b *testing.B) {
			s, broker := memorySettings(b)
			p, err := logpipe.NewProducer(context.Background(), s, "bench")
			require.NoError(b, err)
			batch := make([]logpipe.Message, b.N)
			for i := range batch {
				batch[i] = person(i)
			}
			_, err = p.SendBatch(context.Background(), batch)
			require.NoError(b, err)
			c, err := logpipe.NewConsumer(s, "bench", logpipe.WithIdleTimeout(1), logpipe.WithTransactionSize(size))
			require.NoError(b, err)
			require.NoError(b, c.Register(&people.PersonV1{}))
			_ = broker
			b.ResetTimer()
			require.NoError(b, c.Run(context.Background()))
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
