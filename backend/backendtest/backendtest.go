// Package backendtest is the conformance suite every logpipe backend
// passes, as Watermill's tests.TestPubSub is for its Pub/Subs: one set of
// tests, parameterised by a Features struct for what a backend cannot do,
// run against the in-memory broker, Kafka on a real broker and Kinesis on
// the emulator. A new backend is tested by calling Run from its own tests:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, backendtest.Harness{
//			Backend:     mybackend.New(cfg),
//			CreateTopic: func(t *testing.T, partitions int) string { ... },
//			DB:          testenv.SQLite,
//		})
//	}
//
// It pins down: one backend.ErrClosed after Close; a missing topic matching
// backend.ErrMissingTopic, and the records sent to it reported not written
// (backend.ErrNotWritten; a SendBatch's error a backend.BatchError); Fetch returning empty within the poll interval;
// resuming from stored positions with nothing lost or repeated; per-key order
// under concurrent sends; batch positions in input order; nothing lost when
// a Fetch's context ends; Commit rolling back with the application's
// transaction; record headers round-tripped.
package backendtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
)

// Harness is what the suite needs of a backend.
type Harness struct {
	// Backend is the backend under test.
	Backend backend.Backend
	// CreateTopic creates a new, empty topic (or stream) with the given
	// number of partitions (shards), ready for use, and returns its name.
	CreateTopic func(t *testing.T, partitions int) string
	// DB returns a new database with the offsets tables migrated.
	DB func(t testing.TB) *gorm.DB
	// Features says what the backend cannot do, and its timings.
	Features Features
}

// Features describes a backend's limits. The zero value claims everything.
type Features struct {
	// NoHeaders, when not empty, says why records carry no headers (Kinesis
	// has none): the suite then checks that headers are dropped without an
	// error instead of round-tripped.
	NoHeaders string
	// PollInterval is the backend's configured poll interval: an empty
	// Fetch must return within it (plus a margin for a slow machine).
	PollInterval time.Duration
	// Timeout bounds each wait for records. Default 60s.
	Timeout time.Duration
}

// Run runs the whole suite against h, each test in parallel on its own
// topic.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.Backend, "Harness.Backend")
	require.NotNil(t, h.CreateTopic, "Harness.CreateTopic")
	require.NotNil(t, h.DB, "Harness.DB")
	if h.Features.Timeout == 0 {
		h.Features.Timeout = 60 * time.Second
	}
	s := &suite{Harness: h}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"ClosedProducer", s.closedProducer},
		{"ClosedConsumer", s.closedConsumer},
		{"MissingTopic", s.missingTopic},
		{"EmptyFetchWithinPollInterval", s.emptyFetch},
		{"ResumeFromStoredPositions", s.resume},
		{"PerKeyOrderUnderConcurrentSends", s.perKeyOrder},
		{"BatchPositionsInInputOrder", s.batchPositions},
		{"NothingLostWhenFetchIsCancelled", s.fetchCancelled},
		{"CommitRollsBackWithTransaction", s.commitRollsBack},
		{"Headers", s.headers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	Harness
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.Features.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (s *suite) producer(t *testing.T) backend.Producer {
	t.Helper()
	p, err := s.Backend.NewProducer(s.ctx(t), backend.ProducerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

func (s *suite) consumer(t *testing.T, topic string, db *gorm.DB) backend.Consumer {
	t.Helper()
	c, err := s.Backend.NewConsumer(s.ctx(t), backend.ConsumerOptions{Topic: topic, DB: db, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

func msg(topic, key string, i int) backend.Message {
	return backend.Message{Topic: topic, Key: []byte(key), Value: fmt.Appendf(nil, "json:{\"key\":%q,\"i\":%d}", key, i)}
}

// fetchN fetches until n records have arrived, failing on any error or
// when it takes longer than the suite's timeout.
func (s *suite) fetchN(t *testing.T, c backend.Consumer, n int) []backend.Record {
	t.Helper()
	deadline := time.Now().Add(s.Features.Timeout)
	var out []backend.Record
	for len(out) < n {
		require.True(t, time.Now().Before(deadline), "only %d of %d records arrived within %s", len(out), n, s.Features.Timeout)
		recs, err := c.Fetch(s.ctx(t))
		require.NoError(t, err)
		out = append(out, recs...)
	}
	require.Len(t, out, n, "more records than were sent")
	return out
}

// assertNoMore checks that the next fetches return nothing.
func (s *suite) assertNoMore(t *testing.T, c backend.Consumer) {
	t.Helper()
	for range 2 {
		recs, err := c.Fetch(s.ctx(t))
		require.NoError(t, err)
		require.Empty(t, recs, "a record arrived that was already delivered or never sent")
	}
}

// commit commits recs through tx when tx is not nil.
func commit(t *testing.T, ctx context.Context, c backend.Consumer, db *gorm.DB, recs []backend.Record) {
	t.Helper()
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		for _, r := range recs {
			if err := c.Commit(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	}))
}

// checkPartitionOrder checks that positions rise within each partition or
// shard.
func checkPartitionOrder(t *testing.T, recs []backend.Record) {
	t.Helper()
	last := map[string]backend.Record{}
	for _, r := range recs {
		part := fmt.Sprint(r.Partition, "/", r.Shard)
		if prev, ok := last[part]; ok {
			if r.Shard == "" {
				assert.Greater(t, r.Offset, prev.Offset, "offsets rise within partition %d", r.Partition)
			} else {
				assert.Equal(t, 1, cmpSeq(r.SequenceNumber, prev.SequenceNumber), "sequence numbers rise within shard %s", r.Shard)
			}
		}
		last[part] = r
	}
}

// cmpSeq compares two decimal sequence numbers (0 when either is not one).
func cmpSeq(a, b string) int {
	x, okA := new(big.Int).SetString(a, 10)
	y, okB := new(big.Int).SetString(b, 10)
	if !okA || !okB {
		return 0
	}
	return x.Cmp(y)
}

func (s *suite) closedProducer(t *testing.T) {
	topic := s.CreateTopic(t, 1)
	p, err := s.Backend.NewProducer(s.ctx(t), backend.ProducerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = p.Send(s.ctx(t), msg(topic, "k", 0))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	_, err = p.Send(s.ctx(t), msg(topic, "k", 1))
	assert.ErrorIs(t, err, backend.ErrClosed)
	assert.Equal(t, backend.NotWritten, backend.OutcomeOf(err))
	if bp, ok := p.(backend.BatchProducer); ok {
		_, err = bp.SendBatch(s.ctx(t), []backend.Message{msg(topic, "k", 2)})
		assert.ErrorIs(t, err, backend.ErrClosed)
	}
}

func (s *suite) closedConsumer(t *testing.T) {
	topic := s.CreateTopic(t, 1)
	db := s.DB(t)
	c, err := s.Backend.NewConsumer(s.ctx(t), backend.ConsumerOptions{Topic: topic, DB: db, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	_, err = c.Fetch(s.ctx(t))
	assert.ErrorIs(t, err, backend.ErrClosed)
}

func (s *suite) missingTopic(t *testing.T) {
	missing := fmt.Sprintf("logpipe-missing-%d", time.Now().UnixNano())
	p := s.producer(t)
	_, err := p.Send(s.ctx(t), msg(missing, "k", 0))
	require.Error(t, err)
	assert.ErrorIs(t, err, backend.ErrMissingTopic, "Send to a missing topic: %v", err)
	assert.Contains(t, err.Error(), missing, "the error names the topic")
	assert.ErrorIs(t, err, backend.ErrNotWritten, "Send to a missing topic wrote nothing")
	assert.NotErrorIs(t, err, backend.ErrMaybeWritten)
	if bp, ok := p.(backend.BatchProducer); ok {
		pos, err := bp.SendBatch(s.ctx(t), []backend.Message{msg(missing, "a", 0), msg(missing, "b", 1)})
		var be *backend.BatchError
		require.ErrorAs(t, err, &be, "SendBatch's error is a BatchError")
		require.Len(t, be.Errs, 2)
		require.Len(t, pos, 2)
		for i := range 2 {
			assert.Equal(t, backend.NotWritten, be.Outcome(i), "record %d of a SendBatch to a missing topic: %v", i, be.Errs[i])
			assert.Equal(t, backend.Position{}, pos[i])
		}
		assert.ErrorIs(t, err, backend.ErrMissingTopic)
	}

	c, err := s.Backend.NewConsumer(s.ctx(t), backend.ConsumerOptions{Topic: missing, DB: s.DB(t), Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		defer func() { assert.NoError(t, c.Close()) }()
		_, err = c.Fetch(s.ctx(t))
	}
	require.Error(t, err, "reading a missing topic")
	assert.ErrorIs(t, err, backend.ErrMissingTopic, "reading a missing topic: %v", err)
}

func (s *suite) emptyFetch(t *testing.T) {
	if s.Features.PollInterval == 0 {
		t.Skip("Features.PollInterval is not set")
	}
	topic := s.CreateTopic(t, 2)
	c := s.consumer(t, topic, s.DB(t))
	// The first fetch may connect and look the topic up; the bound is on
	// the fetches after it.
	_, err := c.Fetch(s.ctx(t))
	require.NoError(t, err)
	for range 2 {
		start := time.Now()
		recs, err := c.Fetch(s.ctx(t))
		took := time.Since(start)
		require.NoError(t, err)
		assert.Empty(t, recs)
		assert.NotNil(t, recs, "an empty fetch returns an empty slice")
		// A contract bound, not a speed claim: "never blocks longer than
		// about a second past the poll interval", with room for -race.
		assert.Less(t, took, s.Features.PollInterval+5*time.Second, "an empty Fetch returns within the poll interval")
	}
}

func (s *suite) resume(t *testing.T) {
	topic := s.CreateTopic(t, 3)
	db := s.DB(t)
	p := s.producer(t)
	ctx := s.ctx(t)
	sent := map[string]backend.Position{}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			m := msg(topic, fmt.Sprint("key-", i%7), i)
			pos, err := p.Send(ctx, m)
			require.NoError(t, err)
			assert.Equal(t, topic, pos.Topic)
			sent[string(m.Value)] = pos
		}
	}
	send(0, 30)

	c1 := s.consumer(t, topic, db)
	first := s.fetchN(t, c1, 30)
	checkPartitionOrder(t, first)
	for _, r := range first {
		assert.Equal(t, sent[string(r.Value)], r.Position, "Fetch gives the position Send returned")
	}
	// Apply (commit) the first record of each partition and every record
	// of one partition; the rest is delivered again after a restart.
	applied := map[string]bool{}
	firstOf := map[string]bool{}
	var toCommit []backend.Record
	for _, r := range first {
		part := fmt.Sprint(r.Partition, "/", r.Shard)
		if !firstOf[part] || part == fmt.Sprint(first[0].Partition, "/", first[0].Shard) {
			firstOf[part] = true
			toCommit = append(toCommit, r)
			applied[string(r.Value)] = true
		}
	}
	commit(t, ctx, c1, db, toCommit)
	require.NoError(t, c1.Close())

	send(30, 40)
	c2 := s.consumer(t, topic, db)
	second := s.fetchN(t, c2, 40-len(applied))
	checkPartitionOrder(t, second)
	for _, r := range second {
		assert.False(t, applied[string(r.Value)], "record %s was applied and committed, yet delivered again", r.Value)
		applied[string(r.Value)] = true
	}
	assert.Len(t, applied, 40, "every record delivered")
	commit(t, ctx, c2, db, second)
	s.assertNoMore(t, c2)
}

func (s *suite) perKeyOrder(t *testing.T) {
	topic := s.CreateTopic(t, 2)
	p := s.producer(t)
	ctx := s.ctx(t)
	const keys, each = 6, 8
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := p.Send(ctx, msg(topic, fmt.Sprint("key-", k), i)); err != nil {
					t.Errorf("send key-%d #%d: %v", k, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c := s.consumer(t, topic, s.DB(t))
	recs := s.fetchN(t, c, keys*each)
	next := map[string]int{}
	for _, r := range recs {
		k := string(r.Key)
		assert.Equal(t, string(msg(topic, k, next[k]).Value), string(r.Value), "records of key %s arrive in the order they were sent", k)
		next[k]++
	}
}

func (s *suite) batchPositions(t *testing.T) {
	topic := s.CreateTopic(t, 3)
	p := s.producer(t)
	bp, ok := p.(backend.BatchProducer)
	if !ok {
		t.Skip("the producer has no SendBatch")
	}
	ctx := s.ctx(t)
	var batch []backend.Message
	for i := range 25 {
		batch = append(batch, msg(topic, fmt.Sprint("key-", i%5), i))
	}
	pos, err := bp.SendBatch(ctx, batch)
	require.NoError(t, err)
	require.Len(t, pos, len(batch))
	c := s.consumer(t, topic, s.DB(t))
	recs := s.fetchN(t, c, len(batch))
	at := map[string]backend.Position{}
	for _, r := range recs {
		at[string(r.Value)] = r.Position
	}
	for i, m := range batch {
		assert.Equal(t, at[string(m.Value)], pos[i], "position %d of SendBatch is where message %d went", i, i)
	}
}

func (s *suite) fetchCancelled(t *testing.T) {
	topic := s.CreateTopic(t, 2)
	p := s.producer(t)
	ctx := s.ctx(t)
	const n = 30
	for i := range n {
		_, err := p.Send(ctx, msg(topic, fmt.Sprint("key-", i%4), i))
		require.NoError(t, err)
	}
	c := s.consumer(t, topic, s.DB(t))
	seen := map[string]int{}
	var got []backend.Record
	deadline := time.Now().Add(s.Features.Timeout)
	for i := 0; len(got) < n; i++ {
		require.True(t, time.Now().Before(deadline), "only %d of %d records arrived", len(got), n)
		// Two fetches of three end early (one with a context already ended,
		// one cut off mid-read); the third may complete.
		fctx, cancel := context.WithTimeout(ctx, s.Features.Timeout)
		switch i % 3 {
		case 0:
			cancel()
		case 1:
			cancel()
			fctx, cancel = context.WithTimeout(ctx, time.Duration(1+i%20)*time.Millisecond)
		}
		recs, err := c.Fetch(fctx)
		cancel()
		if err != nil {
			require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded), "Fetch with an ended context: %v", err)
		}
		for _, r := range recs {
			seen[string(r.Value)]++
		}
		got = append(got, recs...)
	}
	assert.Len(t, seen, n, "nothing lost")
	for v, k := range seen {
		assert.Equal(t, 1, k, "record %s delivered %d times", v, k)
	}
	checkPartitionOrder(t, got)
}

func (s *suite) commitRollsBack(t *testing.T) {
	topic := s.CreateTopic(t, 1)
	db := s.DB(t)
	p := s.producer(t)
	ctx := s.ctx(t)
	for i := range 4 {
		_, err := p.Send(ctx, msg(topic, "k", i))
		require.NoError(t, err)
	}
	c1 := s.consumer(t, topic, db)
	recs := s.fetchN(t, c1, 4)
	commit(t, ctx, c1, db, recs[:1])
	errRollback := errors.New("the application's save failed")
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := c1.Commit(ctx, tx, recs[3]); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.NoError(t, c1.Close())

	c2 := s.consumer(t, topic, db)
	again := s.fetchN(t, c2, 3)
	for i, r := range again {
		assert.Equal(t, string(recs[i+1].Value), string(r.Value), "the rolled-back commit did not move the position")
	}
}

func (s *suite) headers(t *testing.T) {
	topic := s.CreateTopic(t, 1)
	p := s.producer(t)
	ctx := s.ctx(t)
	hs := []backend.Header{{Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}, {Key: "empty", Value: []byte{}}}
	m := msg(topic, "k", 0)
	m.Headers = hs
	_, err := p.Send(ctx, m)
	require.NoError(t, err, "a record with headers is sent")
	c := s.consumer(t, topic, s.DB(t))
	recs := s.fetchN(t, c, 1)
	if s.Features.NoHeaders != "" {
		assert.Empty(t, recs[0].Headers, "headers are dropped: %s", s.Features.NoHeaders)
		return
	}
	require.Len(t, recs[0].Headers, len(hs))
	for i, h := range hs {
		assert.Equal(t, h.Key, recs[0].Headers[i].Key)
		assert.Equal(t, string(h.Value), string(recs[0].Headers[i].Value))
	}
}
