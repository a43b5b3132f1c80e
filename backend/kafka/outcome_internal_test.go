package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
)

// TestSendBatchWhoseContextEndsSaysWhatMayBeWritten: when a SendBatch's
// context ends while its request is in flight, its records are reported
// maybe written (and the broker does write them once the request goes on);
// records still queued behind a request are reported not written, and are
// not.
func TestSendBatchWhoseContextEndsSaysWhatMayBeWritten(t *testing.T) {
	t.Parallel()
	topic, _ := testTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, gt := gatedProducer(t)
	batch := func(vs ...string) []backend.Message {
		var out []backend.Message
		for _, v := range vs {
			out = append(out, backend.Message{Topic: topic, Key: []byte("k"), Value: []byte(v)})
		}
		return out
	}

	_, err := p.Send(ctx, batch("json:0")[0]) // waits out the new topic's leader election
	require.NoError(t, err)

	gt.hold.Store(true)
	type result struct {
		pos []backend.Position
		err error
	}
	inFlight := make(chan result, 1)
	shortA, cancelA := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelA()
	go func() {
		pos, err := p.SendBatch(shortA, batch("json:a1", "json:a2"))
		inFlight <- result{pos, err}
	}()
	select {
	case <-gt.entered:
	case <-ctx.Done():
		t.Fatal("the first SendBatch's request never started")
	}
	shortB, cancelB := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelB()
	pos, err := p.SendBatch(shortB, batch("json:b1"))
	var be *backend.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, backend.NotWritten, be.Outcome(0), "queued behind a request: %v", err)
	assert.Equal(t, []backend.Position{{}}, pos)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	r := <-inFlight
	require.ErrorAs(t, r.err, &be)
	assert.Equal(t, []backend.Outcome{backend.MaybeWritten, backend.MaybeWritten}, []backend.Outcome{be.Outcome(0), be.Outcome(1)}, "in a request: %v", r.err)
	assert.Equal(t, []backend.Position{{}, {}}, r.pos)

	gt.hold.Store(false)
	close(gt.gate)
	// c is queued behind a1 and a2's request, which goes on now: a1 and a2
	// take offsets 1 and 2, and b1 took none.
	c, err := p.Send(ctx, batch("json:c")[0])
	require.NoError(t, err)
	assert.EqualValues(t, 3, c.Offset)
}
