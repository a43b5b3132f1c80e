// Package backoff is the one retry delay that every retry loop of logpipe
// and its backends uses: exponential, capped, with jitter so that many
// clients retrying the same broker spread out. It is a few lines, so it is
// written here rather than taken from a library whose retry loops would not
// fit the backends' own (each decides for itself what is retriable and how
// long to keep trying).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/logpipe-go/logpipe/internal/wait"
)

// Policy is an exponential delay: Min before the first retry, doubling up
// to Max. With Jitter, each delay is drawn between half of it and all of it.
// The zero value is not useful: set Min and Max.
type Policy struct {
	Min, Max time.Duration
	Jitter   bool
}

// Delay returns the wait before retry n (n >= 1: the first retry waits
// about Min).
func (p Policy) Delay(n int) time.Duration {
	d := p.Min
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if p.Jitter && d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// Backoff counts the retries of one loop under a Policy. The zero value
// with a Policy set is ready to use; it is not safe for concurrent use.
type Backoff struct {
	Policy
	n int
}

// Next returns the delay before the next retry and counts it.
func (b *Backoff) Next() time.Duration {
	b.n++
	return b.Delay(b.n)
}

// Wait sleeps the next delay, or until ctx ends (then it returns ctx.Err()).
func (b *Backoff) Wait(ctx context.Context) error { return wait.Sleep(ctx, b.Next()) }

// Reset starts the delays from Min again, after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Retries returns how many delays were taken since the last Reset.
func (b *Backoff) Retries() int { return b.n }
