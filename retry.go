package logpipe

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/backoff"
)

// RetryPolicy says how a consumer rides out failures that pass by
// themselves (a database or broker restarting, a lost connection, a
// deadlock) and how often it tries a save that keeps failing.
//
// After a transient failure the consumer rolls back, closes its backend
// consumer, waits, and opens it again from the stored positions, exactly as
// a restarted process would: nothing is applied twice, whatever the failure
// left behind. Run returns the error once transient failures have gone on
// for MaxElapsed without a success.
type RetryPolicy struct {
	// MaxElapsed is how long consecutive transient failures are retried
	// before Run returns the last one. Default 2 minutes; negative: never
	// retry.
	MaxElapsed time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from MinBackoff (with jitter). Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// SaveAttempts is how many times a record whose save fails with an
	// error that is neither transient nor known to be permanent is tried
	// before it is dead-lettered (or, without dead letters, stops the
	// consumer). Default 3.
	SaveAttempts int
}

// DefaultRetryPolicy is the policy of a consumer without WithRetryPolicy.
var DefaultRetryPolicy = RetryPolicy{MaxElapsed: 2 * time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, SaveAttempts: 3}

// WithRetryPolicy sets how the consumer retries; zero fields take
// DefaultRetryPolicy's values.
func WithRetryPolicy(p RetryPolicy) ConsumerOption {
	return func(c *consumerConfig) { c.retry = p }
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxElapsed == 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = d.MinBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.SaveAttempts <= 0 {
		p.SaveAttempts = d.SaveAttempts
	}
	return p
}

func (p RetryPolicy) backoff() backoff.Backoff {
	return backoff.Backoff{Policy: backoff.Policy{Min: p.MinBackoff, Max: p.MaxBackoff, Jitter: true}}
}

// ErrPermanent marks a save error that trying again cannot fix (a value the
// database refuses, say): wrap it (fmt.Errorf("...: %w", logpipe.ErrPermanent))
// in an error from LookupInstance or Save to have the record dead-lettered
// at once instead of tried RetryPolicy.SaveAttempts times.
var ErrPermanent = errors.New("logpipe: permanent failure")

// ErrTransient marks an error that may pass by itself: wrap it in an error
// from LookupInstance or Save to have the consumer roll back, wait and try
// again under its RetryPolicy, never dead-lettering the record for it.
var ErrTransient = errors.New("logpipe: transient failure")

// IsTransient reports whether err may pass by itself: a lost or refused
// connection, a timeout, a PostgreSQL connection error, serialization
// failure, deadlock, lock timeout or shutdown (SQLSTATE classes 08, 53, 57
// and codes 40001, 40P01, 55P03), SQLite's busy or locked database, a Kafka
// error the protocol calls retriable, or an error wrapping ErrTransient.
// Context cancellation is not transient; neither is a fenced offset commit.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !isNetTimeout(err) {
		return false
	}
	if errors.Is(err, ErrPermanent) || errors.Is(err, backend.ErrMissingTopic) || errors.Is(err, backend.ErrClosed) {
		return false
	}
	if errors.Is(err, ErrTransient) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	if code, ok := sqlState(err); ok {
		switch {
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57"),
			code == "40001", code == "40P01", code == "55P03":
			return true
		}
		return false
	}
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) || isNetTimeout(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset by peer") ||
		strings.Contains(msg, "failed to connect")
}

// isPermanent reports whether a save error cannot pass by trying again: an
// error wrapping ErrPermanent, or a PostgreSQL data exception or integrity
// constraint violation (SQLSTATE classes 22 and 23).
func isPermanent(err error) bool {
	if errors.Is(err, ErrPermanent) {
		return true
	}
	code, ok := sqlState(err)
	return ok && (strings.HasPrefix(code, "22") || strings.HasPrefix(code, "23"))
}

// sqlState returns the SQLSTATE of a database error that has one
// (PostgreSQL's, through pgx's SQLState method), without importing a driver.
func sqlState(err error) (string, bool) {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState(), true
	}
	return "", false
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
