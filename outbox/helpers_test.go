package outbox_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/outbox"
)

// Change is the test's message: the state of one entity (ID) after its
// N-th change, which a consumer applies by looking the entity up and
// saving the whole state.
type Change struct {
	ID string `json:"id"`
	N  int    `json:"n"`
	// Attempt names the transaction that sent it, so that a test can tell
	// a rolled-back change from the committed one that reused its N.
	Attempt string `json:"attempt,omitempty"`
}

func (*Change) MessageType() string { return "change" }
func (*Change) Version() int        { return 1 }
func (*Change) KeyField() string    { return "id" }

// quiet is a logger that drops everything.
var quiet = slog.New(slog.DiscardHandler)

// runRelay runs a relay of s until the test ends, and reports its Run error
// then.
func runRelay(t *testing.T, s logpipe.Settings, opts ...outbox.Option) {
	t.Helper()
	r, err := outbox.NewRelay(s, append([]outbox.Option{outbox.WithPollInterval(20 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the relay did not stop within 30 s of its context's end")
		}
	})
}

// waitDrained waits (bounded) until db's outbox is empty.
func waitDrained(t testing.TB, db *gorm.DB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, err := outbox.Pending(context.Background(), db)
		require.NoError(t, err)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records still in the outbox after %s", n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seqOf returns the record's logpipe-outbox-seq header, or -1.
func seqOf(t testing.TB, hs []backend.Header) int64 {
	t.Helper()
	for _, h := range hs {
		if h.Key == outbox.SeqHeader {
			n, err := strconv.ParseInt(string(h.Value), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	return -1
}
