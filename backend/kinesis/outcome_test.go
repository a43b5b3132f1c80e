package kinesis

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
)

// TestSendErrorSaysWhetherTheRecordMayBeStored: throttled until SendTimeout,
// refused, or missing stream is not written; an InternalFailure or a call
// with no answer may have been stored.
func TestSendErrorSaysWhetherTheRecordMayBeStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name    string
		before  func(ctx context.Context, op, shard string) error
		outcome backend.Outcome
	}{
		{"throttled until SendTimeout", func(context.Context, string, string) error {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
		}, backend.NotWritten},
		{"missing stream", func(context.Context, string, string) error {
			return &types.ResourceNotFoundException{Message: aws.String("not found")}
		}, backend.NotWritten},
		{"invalid argument", func(context.Context, string, string) error {
			return &types.InvalidArgumentException{Message: aws.String("bad")}
		}, backend.NotWritten},
		{"internal failure", func(context.Context, string, string) error {
			return &types.InternalFailureException{Message: aws.String("oops")}
		}, backend.MaybeWritten},
		{"no answer", func(ctx context.Context, _, _ string) error { <-ctx.Done(); return ctx.Err() }, backend.MaybeWritten},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStream()
			f.setBefore(c.before)
			p, err := NewProducer(ctx, Config{Client: f, SendTimeout: 300 * time.Millisecond, RequestTimeout: 50 * time.Millisecond})
			require.NoError(t, err)
			_, err = p.Send(ctx, testMessage("k"))
			require.Error(t, err)
			assert.Equal(t, c.outcome, backend.OutcomeOf(err), "%v", err)

			_, err = p.SendBatch(ctx, []backend.Message{testMessage("a"), testMessage("b")})
			var be *backend.BatchError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, c.outcome, be.Outcome(0), "%v", err)
			assert.Equal(t, c.outcome, be.Outcome(1), "%v", err)
		})
	}

	p, err := NewProducer(ctx, Config{Client: newFakeStream()})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	_, err = p.Send(ctx, testMessage("k"))
	assert.ErrorIs(t, err, backend.ErrNotWritten)
	assert.ErrorIs(t, err, backend.ErrClosed)
}

// TestSendBatchReportsEachEntry: in one PutRecords call, a written entry
// has its position, an InternalFailure entry may have been stored, a
// refused entry and a throttled one left unsent when the batch stopped are
// not written; the written entries after a failed one have their positions
// too.
func TestSendBatchReportsEachEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFakeStream()
	f.entryError = func(n int) string {
		switch n {
		case 2:
			return "InternalFailure"
		case 3:
			return "KMSAccessDeniedException"
		case 4:
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	p, err := NewProducer(ctx, Config{Client: f})
	require.NoError(t, err)
	msgs := []backend.Message{testMessage("a"), testMessage("b"), testMessage("c"), testMessage("d"), testMessage("e")}
	pos, err := p.SendBatch(ctx, msgs)
	var be *backend.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, []backend.Outcome{backend.Written, backend.MaybeWritten, backend.NotWritten, backend.NotWritten, backend.Written},
		[]backend.Outcome{be.Outcome(0), be.Outcome(1), be.Outcome(2), be.Outcome(3), be.Outcome(4)}, "%v", err)
	assert.NotEmpty(t, pos[0].SequenceNumber)
	assert.NotEmpty(t, pos[4].SequenceNumber, "written after a failed entry of the same call")
	assert.Empty(t, pos[1].SequenceNumber)
	assert.Equal(t, pos, be.Positions)
	assert.Contains(t, be.Errs[2].Error(), "KMSAccessDeniedException")
	assert.Equal(t, 1, f.count("PutRecords"))
	w, nw, mw := be.Count()
	assert.Equal(t, [3]int{2, 2, 1}, [3]int{w, nw, mw})
}
