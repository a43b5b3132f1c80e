package logpipe_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
)

// TestSendErrorsSayWhatBecameOfTheRecord: a refused send matches
// ErrNotWritten, and SendBatch's error holds a BatchError with one outcome
// per message.
func TestSendErrorsSayWhatBecameOfTheRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := memory.NewBroker() // no topic: every send is refused
	p, err := logpipe.NewProducer(ctx, logpipe.Settings{Backend: b}, "nowhere")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	_, err = p.Send(ctx, person(1))
	require.ErrorIs(t, err, backend.ErrNotWritten)
	assert.Equal(t, backend.NotWritten, backend.OutcomeOf(err))

	pos, err := p.SendBatch(ctx, []logpipe.Message{person(1), person(2), person(3)})
	var be *backend.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Errs, 3)
	for i := range 3 {
		assert.Equal(t, backend.NotWritten, be.Outcome(i), "message %d", i)
		assert.Equal(t, backend.Position{}, pos[i])
	}
	assert.NotErrorIs(t, err, backend.ErrMaybeWritten)
}

// TestSendBatchWithoutBatchPathReportsEachMessage: on a backend without
// SendBatch, the messages before a failure are written, the failed one's
// outcome is the backend's, and the ones after it are not written.
func TestSendBatchWithoutBatchPathReportsEachMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb := &failingBackend{failAt: 1, err: backend.MarkMaybeWritten(errors.New("no answer"))}
	p, err := logpipe.NewProducer(ctx, logpipe.Settings{Backend: fb}, "t")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	pos, err := p.SendBatch(ctx, []logpipe.Message{person(1), person(2), person(3)})
	var be *backend.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, []backend.Outcome{backend.Written, backend.MaybeWritten, backend.NotWritten},
		[]backend.Outcome{be.Outcome(0), be.Outcome(1), be.Outcome(2)})
	assert.Equal(t, backend.Position{Topic: "t", Offset: 0}, pos[0])
	assert.Equal(t, pos, be.Positions)
	assert.ErrorIs(t, err, backend.ErrMaybeWritten)
	assert.Contains(t, err.Error(), "1 written, 1 not written, 1 maybe written")
}

// failingBackend's producer (which has no SendBatch) writes every record
// but the failAt-th, which fails with err.
type failingBackend struct {
	failAt int
	err    error
	n      int
}

func (b *failingBackend) Name() string { return "failing" }
func (b *failingBackend) NewProducer(context.Context, backend.ProducerOptions) (backend.Producer, error) {
	return b, nil
}
func (b *failingBackend) NewConsumer(context.Context, backend.ConsumerOptions) (backend.Consumer, error) {
	return nil, backend.ErrUnsupported
}
func (b *failingBackend) Send(_ context.Context, m backend.Message) (backend.Position, error) {
	n := b.n
	b.n++
	if n == b.failAt {
		return backend.Position{}, b.err
	}
	return backend.Position{Topic: m.Topic, Offset: int64(n)}, nil
}
func (b *failingBackend) Close() error { return nil }

// A failed SendBatch says, for each message, whether it was written, not
// written (safe to resend) or may have been written (a resend may
// duplicate it). Here a backend without a batched path gets no answer for
// the second message, and so does not send the third.
func ExampleProducer_SendBatch_outcomes() {
	ctx := context.Background()
	fb := &failingBackend{failAt: 1, err: backend.MarkMaybeWritten(errors.New("no answer from the broker"))}
	p, err := logpipe.NewProducer(ctx, logpipe.Settings{Backend: fb}, "people")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = p.Close() }()

	msgs := []logpipe.Message{person(1), person(2), person(3)}
	pos, err := p.SendBatch(ctx, msgs)
	var be *backend.BatchError
	if errors.As(err, &be) {
		for i := range msgs {
			switch be.Outcome(i) {
			case backend.Written:
				fmt.Printf("message %d written at %s\n", i, pos[i])
			case backend.NotWritten:
				fmt.Printf("message %d not written: resend it\n", i)
			case backend.MaybeWritten:
				fmt.Printf("message %d may have been written: a resend may duplicate it\n", i)
			}
		}
	}
	// Output:
	// message 0 written at people/0@0
	// message 1 may have been written: a resend may duplicate it
	// message 2 not written: resend it
}
