//go:build linux

package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// TestSendThroughBrokerFaults sends records continuously (two goroutines
// one at a time, one in batches of 50, with keys) to a broker of the test's
// own while it is stopped gracefully and restarted, killed and restarted,
// frozen (SIGSTOP) for less than SendTimeout, and frozen for longer. A
// failed record is sent again as a new try, as a caller would. Then it
// reads the whole topic with the backend's consumer and checks that every
// acknowledged try is there, at its position; every try reported not
// written is absent; tries reported maybe written are counted, present or
// not; no try is there more than 1+MaxSendRetries times; and the records
// there more than once (several tries present) are no more than the tries
// of unknown outcome that were sent again. When the broker came back
// within SendTimeout, the only records not written are *NotSentErrors
// (queued behind a request whose outcome is unknown): every refusal was
// retried.
func TestSendThroughBrokerFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a Kafka broker")
	}
	broker := testenv.NewKafkaBroker(t)
	restart := func(ctx context.Context, t *testing.T) {
		require.NoError(t, broker.Start(ctx))
	}
	scenarios := []struct {
		name        string
		sendTimeout time.Duration
		maxRetries  int
		fault       func(ctx context.Context, t *testing.T)
		// unknownExpected: the fault outlasts SendTimeout, so requests
		// in flight end with no answer.
		unknownExpected bool
	}{
		{name: "graceful restart", sendTimeout: 45 * time.Second, fault: func(ctx context.Context, t *testing.T) {
			require.NoError(t, broker.Stop(time.Minute))
			time.Sleep(time.Second)
			restart(ctx, t)
		}},
		{name: "kill and restart", sendTimeout: 45 * time.Second, maxRetries: 1, fault: func(ctx context.Context, t *testing.T) {
			require.NoError(t, broker.Kill())
			time.Sleep(time.Second)
			restart(ctx, t)
		}},
		{name: "freeze within SendTimeout", sendTimeout: 30 * time.Second, fault: func(_ context.Context, t *testing.T) {
			require.NoError(t, broker.Freeze())
			time.Sleep(4 * time.Second)
			require.NoError(t, broker.Thaw())
		}},
		{name: "freeze beyond SendTimeout", sendTimeout: 3 * time.Second, unknownExpected: true, fault: func(_ context.Context, t *testing.T) {
			require.NoError(t, broker.Freeze())
			time.Sleep(8 * time.Second)
			require.NoError(t, broker.Thaw())
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			topic := createOwnTopic(ctx, t, broker.Addr, 3)
			cfg := kafka.Config{
				Brokers:         []string{broker.Addr},
				SendTimeout:     sc.sendTimeout,
				MaxSendRetries:  sc.maxRetries,
				DialTimeout:     time.Second,
				MetadataRefresh: time.Second,
				PollInterval:    200 * time.Millisecond,
			}
			p := newProducer(t, cfg)
			run := startSenders(ctx, p, topic)
			run.waitAcks(ctx, 30)
			start := time.Now()
			sc.fault(ctx, t)
			downtime := time.Since(start)
			run.waitAcks(ctx, run.acks()+30)
			run.stopAndWait()

			got := readWholeTopic(ctx, t, cfg, topic)
			s := run.check(t, got, 1+sc.maxRetries)
			t.Logf("%s: broker back after %s; %d records, %d tries: %d acknowledged, %d not written (%d queued behind a failed request), %d maybe written (%d of them on the topic, %d sent again); %d tries on the topic more than once, %d records on the topic more than once",
				sc.name, downtime.Round(100*time.Millisecond), s.records, s.tries, s.acked, s.notWritten, s.notSent, s.maybe, s.maybePresent, s.maybeResent, s.tryDuplicates, s.recordDuplicates)
			assert.Positive(t, s.acked)
			if sc.maxRetries == 0 {
				// Known gap (README, "What happens when something
				// fails"): at a graceful stop, one request the producer
				// took for unsent was seen once to have reached the
				// broker, and was retried. Allow that one; more is a
				// regression.
				assert.LessOrEqual(t, s.tryDuplicates, 1, "with MaxSendRetries 0 a try is written twice at most once per restart")
			}
			assert.LessOrEqual(t, s.recordDuplicates, s.maybeResent, "a record is on the topic twice only when an unknown outcome was sent again")
			if downtime+5*time.Second < sc.sendTimeout {
				assert.Equal(t, s.notSent, s.notWritten, "refusals are retried until SendTimeout: the only records not written are those queued behind a request that failed")
			}
			if sc.unknownExpected {
				assert.Positive(t, s.maybe, "requests in flight through a freeze longer than SendTimeout have an unknown outcome")
			}
		})
	}
}

// createOwnTopic creates a topic of n partitions on the broker at addr.
func createOwnTopic(ctx context.Context, t *testing.T, addr string, n int) string {
	t.Helper()
	topic := testenv.Name("lp-faults")
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(addr), Transport: tr, Timeout: 30 * time.Second}
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: n, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
	return topic
}

// try is one send of one record: its value is unique to the try.
type try struct {
	record  int
	n       int
	value   string
	outcome backend.Outcome
	pos     backend.Position
	err     error
	resent  bool // a later try of the record was sent
}

// senders sends records until stopped, keeping a ledger of every try.
type senders struct {
	p     *kafka.Producer
	topic string
	ctx   context.Context
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	problems []string // what a sender found wrong
	tries    []*try
	next     int
	acked    int
	ackedCh  chan struct{} // signalled on each acknowledgement
}

func startSenders(ctx context.Context, p *kafka.Producer, topic string) *senders {
	s := &senders{p: p, topic: topic, ctx: ctx, stop: make(chan struct{}), ackedCh: make(chan struct{}, 1)}
	for range 2 {
		s.wg.Add(1)
		go s.oneAtATime()
	}
	s.wg.Add(1)
	go s.batches(50)
	return s
}

func (s *senders) newRecord() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return s.next - 1
}

func (s *senders) message(tr *try) backend.Message {
	return backend.Message{Topic: s.topic, Key: []byte(fmt.Sprint("k", tr.record%7)), Value: []byte(tr.value)}
}

func (s *senders) newTry(record, n int) *try {
	tr := &try{record: record, n: n, value: fmt.Sprintf("r%d#%d", record, n)}
	s.mu.Lock()
	s.tries = append(s.tries, tr)
	s.mu.Unlock()
	return tr
}

func (s *senders) done(tr *try, pos backend.Position, err error) {
	s.mu.Lock()
	tr.pos, tr.err, tr.outcome = pos, err, backend.OutcomeOf(err)
	if err == nil {
		s.acked++
	}
	s.mu.Unlock()
	if err == nil {
		select {
		case s.ackedCh <- struct{}{}:
		default:
		}
	}
}

func (s *senders) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return s.ctx.Err() != nil
	}
}

// oneAtATime sends records with Send, each until it is acknowledged.
func (s *senders) oneAtATime() {
	defer s.wg.Done()
	for !s.stopped() {
		rec := s.newRecord()
		for n := 0; s.ctx.Err() == nil; n++ {
			tr := s.newTry(rec, n)
			pos, err := s.p.Send(s.ctx, s.message(tr))
			s.done(tr, pos, err)
			if err == nil {
				break
			}
			s.mu.Lock()
			tr.resent = true
			s.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// batches sends records with SendBatch, size at a time; the records that
// failed go again in the next batch, alone.
func (s *senders) batches(size int) {
	defer s.wg.Done()
	var pending []*try
	for s.ctx.Err() == nil && (len(pending) > 0 || !s.stopped()) {
		var batch []*try
		if len(pending) > 0 {
			for _, old := range pending {
				batch = append(batch, s.newTry(old.record, old.n+1))
			}
			pending = nil
		} else {
			for range size {
				batch = append(batch, s.newTry(s.newRecord(), 0))
			}
		}
		msgs := make([]backend.Message, len(batch))
		for i, tr := range batch {
			msgs[i] = s.message(tr)
		}
		pos, err := s.p.SendBatch(s.ctx, msgs)
		var be *backend.BatchError
		if err != nil && !errors.As(err, &be) {
			s.mu.Lock()
			s.problems = append(s.problems, fmt.Sprintf("SendBatch's error holds no BatchError: %v", err))
			s.mu.Unlock()
			be = backend.AsBatchError(err, len(batch), pos)
		}
		for i, tr := range batch {
			var (
				rerr error
				p    backend.Position
			)
			if be != nil {
				rerr = be.Errs[i]
			}
			if i < len(pos) {
				p = pos[i]
			}
			s.done(tr, p, rerr)
			if rerr != nil {
				s.mu.Lock()
				tr.resent = true
				s.mu.Unlock()
				pending = append(pending, tr)
			}
		}
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (s *senders) acks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// waitAcks waits until n tries were acknowledged, or ctx ends.
func (s *senders) waitAcks(ctx context.Context, n int) {
	for s.acks() < n {
		select {
		case <-s.ackedCh:
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopAndWait stops sending new records; the senders finish the records
// they have (until ctx ends).
func (s *senders) stopAndWait() {
	close(s.stop)
	s.wg.Wait()
}

// faultStats counts what the ledger and the topic say.
type faultStats struct {
	records, tries, acked, notWritten, notSent, maybe, maybePresent, maybeResent int
	tryDuplicates, recordDuplicates                                              int
}

// check compares the ledger with the records read from the topic.
func (s *senders) check(t *testing.T, got []backend.Record, maxCopies int) faultStats {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	at := map[string][]backend.Position{}
	for _, r := range got {
		at[string(r.Value)] = append(at[string(r.Value)], r.Position)
	}
	assert.Empty(t, s.problems)
	var st faultStats
	st.records, st.tries = s.next, len(s.tries)
	present := map[int]int{} // record -> tries on the topic
	for _, tr := range s.tries {
		copies := at[tr.value]
		if len(copies) > 0 {
			present[tr.record]++
		}
		if len(copies) > 1 {
			st.tryDuplicates += len(copies) - 1
		}
		assert.LessOrEqual(t, len(copies), maxCopies+1, "try %s is on the topic at most 1+MaxSendRetries times (one more: the known gap above)", tr.value)
		switch tr.outcome {
		case backend.Written:
			st.acked++
			if assert.NotEmpty(t, copies, "acknowledged try %s is on the topic", tr.value) {
				assert.Contains(t, copies, tr.pos, "acknowledged try %s is where Send said", tr.value)
			}
		case backend.NotWritten:
			st.notWritten++
			var ns *kafka.NotSentError
			if errors.As(tr.err, &ns) {
				st.notSent++
			}
			assert.Empty(t, copies, "try %s reported not written is absent (%v)", tr.value, tr.err)
		case backend.MaybeWritten:
			st.maybe++
			if len(copies) > 0 {
				st.maybePresent++
			}
			if tr.resent {
				st.maybeResent++
			}
		}
	}
	for _, n := range present {
		if n > 1 {
			st.recordDuplicates += n - 1
		}
	}
	return st
}

// readWholeTopic reads every record of topic, up to the partitions' end
// offsets at the time of the call.
func readWholeTopic(ctx context.Context, t *testing.T, cfg kafka.Config, topic string) []backend.Record {
	t.Helper()
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: tr, Timeout: 30 * time.Second}
	res, err := cl.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
		topic: {kafkago.LastOffsetOf(0), kafkago.LastOffsetOf(1), kafkago.LastOffsetOf(2)},
	}})
	require.NoError(t, err)
	total := int64(0)
	for _, po := range res.Topics[topic] {
		require.NoError(t, po.Error)
		total += po.LastOffset
	}
	c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	var got []backend.Record
	next := map[int32]int64{}
	for int64(len(got)) < total {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err, "after %d of %d records", len(got), total)
		for _, r := range recs {
			require.Equal(t, next[r.Partition], r.Offset, "records of partition %d are read in order, none missing", r.Partition)
			next[r.Partition] = r.Offset + 1
			got = append(got, r)
		}
	}
	return got
}
