package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logpipe-go/logpipe/internal/backoff"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// NotifyChannel is the PostgreSQL channel on which writers made
// WithNotify notify, and relays made WithListen listen.
const NotifyChannel = "logpipe_outbox"

// WriterOption configures a Writer.
type WriterOption func(*Writer)

// WithNotify makes Send, on PostgreSQL, also NOTIFY NotifyChannel, so that
// relays made WithListen wake as soon as the transaction commits instead
// of at their next poll. It has a cost: PostgreSQL takes a cluster-wide
// lock while a notifying transaction commits, which serializes the commits
// of every notifying transaction (BenchmarkCommitNotify, 8 concurrent
// writers on the project's shared 2-core machine: from no difference to
// about a quarter fewer commits per second, within that machine's noise).
// Default off. It does nothing on SQLite.
func WithNotify() WriterOption {
	return func(w *Writer) { w.notify = true }
}

// WithListen makes the relay, on PostgreSQL, hold a connection of its own
// to dsn (outside Settings.DB's pool) that LISTENs on NotifyChannel, so
// that a transaction sent by a writer made WithNotify is picked up as soon
// as it commits. Polling goes on as the fallback, every WithPollInterval:
// notifications sent while the connection is down are lost (the relay
// reconnects with growing pauses and looks at the outbox once it is back),
// and LISTEN does not work through a transaction-pooling proxy (PgBouncer in
// transaction mode), where only polling delivers. dsn is a libpq
// connection string or URL, as gorm's postgres driver takes.
func WithListen(dsn string) Option {
	return func(c *relayConfig) { c.listenDSN = dsn; c.listen = true }
}

// listenPolicy spaces the reconnections of the listening connection.
var listenPolicy = backoff.Policy{Min: 200 * time.Millisecond, Max: 10 * time.Second, Jitter: true}

// listen keeps a LISTEN connection until ctx ends, and signals wake after
// each notification and after each (re)connection, since notifications
// sent while it was down are lost.
func (r *Relay) listen(ctx context.Context, cfg *pgx.ConnConfig, wake chan<- struct{}) {
	retry := backoff.Backoff{Policy: listenPolicy}
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, cfg, func() { retry.Reset(); signal() })
		if ctx.Err() != nil {
			return
		}
		d := retry.Next()
		r.log.Warn("logpipe/outbox: the LISTEN connection failed; polling until it is back", "error", err, "retry_in", d)
		_ = wait.Sleep(ctx, d)
	}
}

// listenOnce connects, listens, and calls woke after LISTEN and after each
// notification, until the connection fails or ctx ends.
func (r *Relay) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, woke func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return fmt.Errorf("LISTEN %s: %w", NotifyChannel, err)
	}
	woke()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for a notification: %w", err)
		}
		woke()
	}
}

// parseListenDSN checks dsn for WithListen.
func parseListenDSN(dsn string) (*pgx.ConnConfig, error) {
	if dsn == "" {
		return nil, errors.New("WithListen needs a connection string")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("WithListen: %w", err)
	}
	return cfg, nil
}
