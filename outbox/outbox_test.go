package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
	"github.com/logpipe-go/logpipe/outbox"
)

func TestMigrateCreatesTheOutboxTables(t *testing.T) {
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			for _, table := range []string{offsetstore.OutboxTable, offsetstore.OutboxSeqTable, offsetstore.OutboxRelayTable} {
				assert.True(t, db.Migrator().HasTable(table), table)
			}
			v, err := offsetstore.CurrentSchemaVersion(context.Background(), db)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, v, 2)
			// Running it again changes nothing.
			require.NoError(t, offsetstore.Migrate(context.Background(), db))
		})
	}
}

// TestSendRendersLikeProducer: what the relay sends is byte for byte what
// Producer.Send sends, in both formats, with the producer id, plus the
// caller's headers and the sequence header.
func TestSendRendersLikeProducer(t *testing.T) {
	for name, open := range testenv.Databases(t) {
		for _, f := range []string{"json", "msgpack"} {
			t.Run(name+"/"+f, func(t *testing.T) {
				ctx := context.Background()
				db := open(t)
				broker := memory.NewBroker()
				require.NoError(t, broker.CreateTopic("direct", 1))
				require.NoError(t, broker.CreateTopic("outboxed", 1))
				s := logpipe.Settings{Backend: broker, DB: db, Format: f, ProducerID: "svc-a", Logger: quiet}

				msg := &Change{ID: "ä-1", N: 7}
				p, err := logpipe.NewProducer(ctx, s, "direct")
				require.NoError(t, err)
				defer p.Close()
				_, err = p.Send(ctx, msg)
				require.NoError(t, err)

				w, err := outbox.NewWriter(s, "outboxed")
				require.NoError(t, err)
				var e outbox.Entry
				require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
					e, err = w.Send(ctx, tx, msg, logpipe.Header{Key: "trace", Value: []byte{0, 1, 2}})
					return err
				}))
				assert.Equal(t, int64(1), e.Seq)
				runRelay(t, s)
				waitDrained(t, db, 30*time.Second)

				want := broker.Records("direct", 0)
				got := broker.Records("outboxed", 0)
				require.Len(t, want, 1)
				require.Len(t, got, 1)
				assert.Equal(t, want[0].Key, got[0].Key)
				assert.Equal(t, want[0].Value, got[0].Value)
				assert.Equal(t, []backend.Header{{Key: "trace", Value: []byte{0, 1, 2}}, {Key: outbox.SeqHeader, Value: []byte("1")}}, got[0].Headers)
			})
		}
	}
}

func TestRolledBackIsNeverSent(t *testing.T) {
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			broker := memory.NewBroker()
			require.NoError(t, broker.CreateTopic("t", 1))
			s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
			w, err := outbox.NewWriter(s, "t")
			require.NoError(t, err)
			boom := errors.New("boom")
			err = db.Transaction(func(tx *gorm.DB) error {
				_, err := w.Send(ctx, tx, &Change{ID: "a", N: 1})
				require.NoError(t, err)
				return boom
			})
			require.ErrorIs(t, err, boom)
			n, err := outbox.Pending(ctx, db)
			require.NoError(t, err)
			assert.Zero(t, n)
			// The rolled-back number is given again: no gap.
			var e outbox.Entry
			require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
				e, err = w.Send(ctx, tx, &Change{ID: "a", N: 2})
				return err
			}))
			assert.Equal(t, int64(1), e.Seq)
			runRelay(t, s)
			waitDrained(t, db, 30*time.Second)
			recs := broker.Records("t", 0)
			require.Len(t, recs, 1)
			assert.Contains(t, string(recs[0].Value), `"n":2`)
		})
	}
}

func TestSendNeedsATransaction(t *testing.T) {
	db := testenv.SQLite(t)
	w, err := outbox.NewWriter(logpipe.Settings{}, "t")
	require.NoError(t, err)
	_, err = w.Send(context.Background(), db, &Change{ID: "a"})
	require.ErrorIs(t, err, outbox.ErrNoTransaction)
	_, err = w.Send(context.Background(), nil, &Change{ID: "a"})
	require.ErrorIs(t, err, outbox.ErrNoTransaction)
	n, err := outbox.Pending(context.Background(), db)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestBadInputIsAnErrorNotAPanic(t *testing.T) {
	_, err := outbox.NewWriter(logpipe.Settings{}, "")
	require.Error(t, err)
	_, err = outbox.NewWriter(logpipe.Settings{Format: "xml"}, "t")
	require.ErrorContains(t, err, "Format")
	_, err = outbox.NewWriter(logpipe.Settings{}, strings.Repeat("x", 250))
	require.Error(t, err)

	db := testenv.SQLite(t)
	w, err := outbox.NewWriter(logpipe.Settings{}, "t")
	require.NoError(t, err)
	err = db.Transaction(func(tx *gorm.DB) error {
		_, err := w.Send(context.Background(), tx, nil)
		return err
	})
	require.ErrorContains(t, err, "nil")
	var nilChange *Change
	err = db.Transaction(func(tx *gorm.DB) error {
		_, err := w.Send(context.Background(), tx, nilChange)
		return err
	})
	require.Error(t, err)

	_, err = outbox.NewRelay(logpipe.Settings{}, outbox.WithBatchSize(0), outbox.WithPollInterval(-1), outbox.WithName(""))
	require.Error(t, err)
	for _, want := range []string{"Backend", "DB", "WithBatchSize", "WithPollInterval", "WithName"} {
		assert.Contains(t, err.Error(), want, "every problem is reported at once")
	}
}

func TestRelayWithoutTablesFailsToStart(t *testing.T) {
	db := testenv.SQLiteEmpty(t)
	r, err := outbox.NewRelay(logpipe.Settings{Backend: memory.NewBroker(), DB: db, Logger: quiet})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = r.Run(ctx)
	require.ErrorContains(t, err, "offsetstore.Migrate")
}

// postgres returns a migrated PostgreSQL database, skipping without one.
func postgres(t *testing.T) *gorm.DB {
	t.Helper()
	return testenv.Postgres(t)
}

// TestLongTransactionWithALowerIDIsStillSent: a transaction that inserted
// first (lower id) and commits after later rows were relayed is sent.
func TestLongTransactionWithALowerIDIsStillSent(t *testing.T) {
	ctx := context.Background()
	db := postgres(t)
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 1))
	s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
	w, err := outbox.NewWriter(s, "t")
	require.NoError(t, err)

	long := db.Begin()
	require.NoError(t, long.Error)
	eLong, err := w.Send(ctx, long, &Change{ID: "slow", N: 1})
	require.NoError(t, err)
	var eFast outbox.Entry
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		eFast, err = w.Send(ctx, tx, &Change{ID: "fast", N: 1})
		return err
	}))
	require.Less(t, eLong.ID, eFast.ID)

	runRelay(t, s)
	waitDrained(t, db, 30*time.Second)
	require.Len(t, broker.Records("t", 0), 1, "the committed row is relayed while the long transaction is open")

	require.NoError(t, long.Commit().Error)
	waitDrained(t, db, 30*time.Second)
	recs := broker.Records("t", 0)
	require.Len(t, recs, 2)
	assert.Equal(t, "fast", string(recs[0].Key))
	assert.Equal(t, "slow", string(recs[1].Key))
}

// waitBlocked waits (bounded) until a backend of db waits for a lock.
func waitBlocked(t *testing.T, db *gorm.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int64
		require.NoError(t, db.Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&n).Error)
		if n > 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "no transaction waits for the key's lock")
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSameKeyFollowsCommitOrder: a second transaction sending a key waits
// for the first to end, then takes the next number; a rolled-back number
// is given again, so the relayed order is the commit order.
func TestSameKeyFollowsCommitOrder(t *testing.T) {
	ctx := context.Background()
	db := postgres(t)
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 1))
	s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
	w, err := outbox.NewWriter(s, "t")
	require.NoError(t, err)

	first := db.Begin()
	_, err = w.Send(ctx, first, &Change{ID: "k", N: 100}) // rolled back below
	require.NoError(t, err)

	type result struct {
		e   outbox.Entry
		err error
	}
	second := make(chan result, 1)
	go func() {
		var e outbox.Entry
		err := db.Transaction(func(tx *gorm.DB) error {
			var err error
			e, err = w.Send(ctx, tx, &Change{ID: "k", N: 1})
			return err
		})
		second <- result{e, err}
	}()
	waitBlocked(t, db)
	var third outbox.Entry
	require.NoError(t, first.Rollback().Error)
	r := <-second
	require.NoError(t, r.err)
	assert.Equal(t, int64(1), r.e.Seq, "the rolled-back number is given again")
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		third, err = w.Send(ctx, tx, &Change{ID: "k", N: 2})
		return err
	}))
	assert.Equal(t, int64(2), third.Seq)
	assert.Less(t, r.e.ID, third.ID)

	runRelay(t, s)
	waitDrained(t, db, 30*time.Second)
	recs := broker.Records("t", 0)
	require.Len(t, recs, 2)
	assert.Equal(t, int64(1), seqOf(t, recs[0].Headers))
	assert.Equal(t, int64(2), seqOf(t, recs[1].Headers))
}

// Entity is the application's row in the ordering tests: its state is
// changed under a row lock and each change sent through the outbox.
type Entity struct {
	ID string `gorm:"primaryKey;size:40"`
	N  int    `gorm:"not null"`
}

// change commits one change of entity id: the row locked, N incremented,
// the new state sent, committed, or rolled back when rollback is true. It
// returns the new N (committed or not).
func change(ctx context.Context, db *gorm.DB, w *outbox.Writer, id, attempt string, rollback bool) (int, error) {
	errRollback := errors.New("rolled back on purpose")
	var n int
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var e Entity
		q := tx
		if tx.Name() == "postgres" {
			q = tx.Raw("SELECT * FROM entities WHERE id = ? FOR UPDATE", id)
		} else {
			q = tx.Raw("SELECT * FROM entities WHERE id = ?", id)
		}
		if err := q.Scan(&e).Error; err != nil {
			return err
		}
		if e.ID == "" {
			return fmt.Errorf("no entity %s", id)
		}
		e.N++
		n = e.N
		if err := tx.Model(&Entity{}).Where("id = ?", id).Update("n", e.N).Error; err != nil {
			return err
		}
		if _, err := w.Send(ctx, tx, &Change{ID: id, N: e.N, Attempt: attempt}); err != nil {
			return err
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		return n, nil
	}
	return n, err
}

// TestReplicasKeepPerKeyOrder: writers change entities concurrently while
// three relays of one name run; every committed change arrives once, in
// commit order per key.
func TestReplicasKeepPerKeyOrder(t *testing.T) {
	ctx := context.Background()
	db := postgres(t)
	require.NoError(t, db.AutoMigrate(&Entity{}))
	const keys, writers, perWriter = 20, 4, 150
	for i := range keys {
		require.NoError(t, db.Create(&Entity{ID: fmt.Sprintf("e%02d", i)}).Error)
	}
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 3))
	s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
	w, err := outbox.NewWriter(s, "t")
	require.NoError(t, err)
	for range 3 {
		runRelay(t, s, outbox.WithBatchSize(7))
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if _, err := change(ctx, db, w, fmt.Sprintf("e%02d", (g*7+i)%keys), "", i%10 == 3); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	waitDrained(t, db, time.Minute)

	var final []Entity
	require.NoError(t, db.Find(&final).Error)
	got := map[string][]int{}
	total := 0
	for p := range int32(3) {
		for _, r := range broker.Records("t", p) {
			var c Change
			require.NoError(t, json.Unmarshal(r.Value[len("json:"):], &struct {
				Message *Change `json:"message"`
			}{&c}))
			got[c.ID] = append(got[c.ID], c.N)
			total++
		}
	}
	committed := 0
	for _, e := range final {
		want := make([]int, e.N)
		for i := range want {
			want[i] = i + 1
		}
		assert.Equal(t, want, got[e.ID], "entity %s: every committed state, once, in order", e.ID)
		committed += e.N
	}
	assert.Equal(t, committed, total)
	assert.Less(t, committed, writers*perWriter, "some changes were rolled back")
}

func TestRelayRunsInAMultiConsumer(t *testing.T) {
	ctx := context.Background()
	db := testenv.SQLite(t)
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 1))
	s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
	r, err := outbox.NewRelay(s, outbox.WithPollInterval(10*time.Millisecond))
	require.NoError(t, err)
	c, err := logpipe.NewConsumer(s, "t", logpipe.WithLimit(3))
	require.NoError(t, err)
	applied := multiApplied
	require.NoError(t, c.Register(&ChangeSerializer{}))
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		for i := 1; i <= 3; i++ {
			if _, err := outbox.Send(ctx, tx, s, "t", &Change{ID: "x", N: i}); err != nil {
				return err
			}
		}
		return nil
	}))
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	go func() {
		// The consumer stops after 3 records; then stop the relay too.
		for applied.len() < 3 && runCtx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	require.NoError(t, logpipe.NewMultiConsumer(r, c).Run(runCtx))
	assert.Equal(t, []int{1, 2, 3}, applied.get())
}

type appliedChanges struct {
	mu sync.Mutex
	ns []int
}

func (a *appliedChanges) add(n int) { a.mu.Lock(); a.ns = append(a.ns, n); a.mu.Unlock() }
func (a *appliedChanges) len() int  { a.mu.Lock(); defer a.mu.Unlock(); return len(a.ns) }
func (a *appliedChanges) get() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.ns...)
}

// multiApplied is where ChangeSerializer records what it applied (a
// consumer makes a new serializer value per record).
var multiApplied = &appliedChanges{}

// ChangeSerializer applies Change messages into multiApplied.
type ChangeSerializer struct {
	Change
}

func (c *ChangeSerializer) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }
func (c *ChangeSerializer) Save(context.Context, *gorm.DB, any) error {
	multiApplied.add(c.N)
	return nil
}

// TestRelayFromTheRegistry: a consumer factory may return a relay.
func TestRelayFromTheRegistry(t *testing.T) {
	db := testenv.SQLite(t)
	broker := memory.NewBroker()
	require.NoError(t, broker.CreateTopic("t", 1))
	reg := &logpipe.Registry{}
	reg.Register(func(s logpipe.Settings) (logpipe.Runner, error) {
		return outbox.NewRelay(s, outbox.WithPollInterval(10*time.Millisecond))
	})
	s := logpipe.Settings{Backend: broker, DB: db, Logger: quiet}
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		_, err := outbox.Send(context.Background(), tx, s, "t", &Change{ID: "r", N: 1})
		return err
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx, s) }()
	waitDrained(t, db, 30*time.Second)
	cancel()
	require.NoError(t, <-done)
	assert.Len(t, broker.Records("t", 0), 1)
}
