package logpipe_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
)

// nopHook implements every hook interface and does nothing: the cost of
// the hook machinery itself.
type nopHook struct{}

func (nopHook) OnRecordSent(context.Context, logpipe.SendEvent)     {}
func (nopHook) OnRecordApplied(context.Context, logpipe.ApplyEvent) {}
func (nopHook) OnRecordSkipped(context.Context, logpipe.SkipEvent)  {}
func (nopHook) OnApplyFailed(context.Context, logpipe.FailEvent)    {}
func (nopHook) OnFetch(context.Context, logpipe.FetchEvent)         {}
func (nopHook) OnCommit(context.Context, logpipe.CommitEvent)       {}
func (nopHook) OnBeforeApply(ctx context.Context, _ *logpipe.FetchedRecord) context.Context {
	return ctx
}

// BenchmarkHooks measures Producer.Send on the memory broker and the
// consumer's apply path (memory broker, SQLite, 100 records per
// transaction), without hooks and with a hook that does nothing. Without
// hooks, allocs/op must equal BenchmarkSendMemory's and
// BenchmarkConsumeApplySQLite's before hooks existed (BENCHMARKS.md).
func BenchmarkHooks(b *testing.B) {
	for _, hooked := range []bool{false, true} {
		name := "none"
		var hooks []logpipe.Hook
		if hooked {
			name, hooks = "nop", []logpipe.Hook{nopHook{}}
		}
		b.Run("send/"+name, func(b *testing.B) {
			s := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), Hooks: hooks}
			p, err := logpipe.NewProducer(context.Background(), s, "bench")
			require.NoError(b, err)
			msg := &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: "Schmoe"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Send(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("apply/%s", name), func(b *testing.B) {
			s, _ := memorySettings(b)
			s.Hooks = hooks
			p, err := logpipe.NewProducer(context.Background(), s, "bench")
			require.NoError(b, err)
			batch := make([]logpipe.Message, b.N)
			for i := range batch {
				batch[i] = person(i)
			}
			_, err = p.SendBatch(context.Background(), batch)
			require.NoError(b, err)
			c, err := logpipe.NewConsumer(s, "bench", logpipe.WithLimit(b.N), logpipe.WithTransactionSize(100))
			require.NoError(b, err)
			require.NoError(b, c.Register(&people.PersonV1{}))
			b.ReportAllocs()
			b.ResetTimer()
			require.NoError(b, c.Run(context.Background()))
		})
	}
}
