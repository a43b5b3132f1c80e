package kafka

import (
	"context"
	"errors"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fresh cluster answers group requests with "not coordinator" until
// __consumer_offsets is ready: those are retried, other errors are not.
func TestRetryCoordinator(t *testing.T) {
	t.Parallel()
	calls := 0
	err := retryCoordinator(context.Background(), func() error {
		calls++
		switch calls {
		case 1:
			return kafkago.NotCoordinatorForGroup
		case 2:
			return kafkago.GroupLoadInProgress
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls)

	calls = 0
	boom := errors.New("boom")
	assert.ErrorIs(t, retryCoordinator(context.Background(), func() error { calls++; return boom }), boom)
	assert.Equal(t, 1, calls)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = retryCoordinator(ctx, func() error { return kafkago.GroupCoordinatorNotAvailable })
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, kafkago.GroupCoordinatorNotAvailable)
}
