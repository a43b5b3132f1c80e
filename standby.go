package logpipe

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
	"gorm.io/gorm"
)

// standbyPoll is how often a standby consumer tries to take the lock.
const standbyPoll = time.Second

// standby waits, on PostgreSQL with offsets in the database, until this
// consumer holds the topic's advisory lock, and returns the function that
// releases it. It returns a nil release and nil error when ctx ends first.
// Elsewhere it returns at once: consumers there are only fenced. It takes
// no lock either for a backend that shares the partitions out among the
// processes (backend.SharedAssignment: Kafka group assignment, Kinesis shard
// leases), which are meant to run together.
// The lock is the consumer name's: consumers of one topic with different
// names (WithName) do not wait for each other.
func (c *Consumer) standby(ctx context.Context) (release func(), err error) {
	db := c.settings.DB
	if c.cfg.noStandby || db == nil || c.settings.Offsets != OffsetsInDatabase || db.Name() != "postgres" || c.sharesPartitions() {
		return func() {}, nil
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("logpipe: standby lock: %w", err)
	}
	key := standbyKey(c.settings.Backend.Name(), c.topic, c.cfg.name)
	logged := false
	for {
		conn, err := sqlDB.Conn(ctx)
		if err == nil {
			var got bool
			if err = conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err == nil && got {
				if logged {
					c.log.Info("logpipe: took over the topic; consuming")
				}
				return func() {
					uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_, _ = conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", key)
					_ = conn.Close()
				}, nil
			}
			_ = conn.Close()
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if err != nil && !IsTransient(err) {
			return nil, fmt.Errorf("logpipe: standby lock of topic %s: %w", c.topic, err)
		}
		if !logged {
			c.log.Info("logpipe: another consumer of the topic holds it on this database; standing by", "poll", standbyPoll)
			logged = true
		}
		if wait.Sleep(ctx, standbyPoll) != nil {
			return nil, nil
		}
	}
}

// sharesPartitions reports whether the backend shares the topic's
// partitions out among the processes that run this consumer.
func (c *Consumer) sharesPartitions() bool {
	sa, ok := c.settings.Backend.(backend.SharedAssignment)
	return ok && sa.SharesPartitions(consumerOptions(c.settings, c.topic, c.cfg.name))
}

// standbyKey is the advisory lock of the consumer name of topic on a
// backend.
func standbyKey(backendName, topic, name string) int64 {
	h := fnv.New64a()
	lockName := "logpipe consumer\x00" + backendName + "\x00" + topic
	if name != "" { // the unnamed consumer keeps the key it always had
		lockName += "\x00" + name
	}
	_, _ = h.Write([]byte(lockName))
	return int64(h.Sum64())
}

// ConsumerRunning reports whether a consumer of topic (with the given
// name, "" for the unnamed one) on the backend named backendName ("kafka",
// "kinesis") is running on db: whether it holds its standby lock. It is
// known on PostgreSQL only (ok is false elsewhere), and not for consumers
// that share a topic's partitions (Kafka group assignment, Kinesis leases),
// which take no such lock. Tools that change positions (logpipe offsets
// reset) check it to refuse while a consumer runs.
func ConsumerRunning(ctx context.Context, db *gorm.DB, backendName, topic, name string) (running, ok bool, err error) {
	if db == nil || db.Name() != "postgres" {
		return false, false, nil
	}
	sqlDB, err := db.DB()
	if err != nil {
		return false, false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, false, err
	}
	defer func() { _ = conn.Close() }()
	key := standbyKey(backendName, topic, name)
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		return false, false, fmt.Errorf("logpipe: is a consumer of %s running: %w", topic, err)
	}
	if got {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			return false, true, fmt.Errorf("logpipe: is a consumer of %s running: %w", topic, err)
		}
	}
	return !got, true, nil
}
