package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	p := Policy{Min: 50 * time.Millisecond, Max: time.Second}
	want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		assert.Equal(t, w*time.Millisecond, p.Delay(i+1), "retry %d", i+1)
	}
}

func TestJitterStaysBetweenHalfAndAll(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second, Jitter: true}
	for i := 0; i < 1000; i++ {
		d := p.Delay(3)
		assert.GreaterOrEqual(t, d, 200*time.Millisecond)
		assert.LessOrEqual(t, d, 400*time.Millisecond)
	}
}

func TestBackoffCountsAndResets(t *testing.T) {
	b := Backoff{Policy: Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}}
	assert.Equal(t, time.Millisecond, b.Next())
	assert.Equal(t, 2*time.Millisecond, b.Next())
	assert.Equal(t, 2, b.Retries())
	b.Reset()
	assert.Equal(t, time.Millisecond, b.Next())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, b.Wait(ctx), context.Canceled)
}
