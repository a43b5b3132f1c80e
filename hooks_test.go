package logpipe_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/internal/people"
)

// recorder is a hook implementing every hook interface, recording what it
// hears.
type recorder struct {
	mu       sync.Mutex
	sent     []logpipe.SendEvent
	before   []string // headers seen by OnBeforeApply, "key=value"
	applied  []logpipe.ApplyEvent
	skipped  []logpipe.SkipEvent
	failed   []logpipe.FailEvent
	fetches  []logpipe.FetchEvent
	commits  []logpipe.CommitEvent
	assigned []logpipe.AssignmentEvent
	dead     []logpipe.DeadLetterEvent
	ctxOK    []bool // whether each end event got the context OnBeforeApply returned
}

type ctxMark struct{}

func (r *recorder) OnBeforeSend(ctx context.Context, out *logpipe.OutgoingRecord) context.Context {
	out.Headers = append(out.Headers, logpipe.Header{Key: "x-type", Value: []byte(out.Type)})
	return ctx
}

func (r *recorder) OnRecordSent(_ context.Context, e logpipe.SendEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, e)
}

func (r *recorder) OnSendRetried(logpipe.RetryEvent) {}

func (r *recorder) OnBeforeApply(ctx context.Context, rec *logpipe.FetchedRecord) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range rec.Headers {
		r.before = append(r.before, h.Key+"="+string(h.Value))
	}
	return context.WithValue(ctx, ctxMark{}, true)
}

func (r *recorder) mark(ctx context.Context) {
	ok, _ := ctx.Value(ctxMark{}).(bool)
	r.ctxOK = append(r.ctxOK, ok)
}

func (r *recorder) OnRecordApplied(ctx context.Context, e logpipe.ApplyEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mark(ctx)
	r.applied = append(r.applied, e)
}

func (r *recorder) OnRecordSkipped(ctx context.Context, e logpipe.SkipEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mark(ctx)
	r.skipped = append(r.skipped, e)
}

func (r *recorder) OnApplyFailed(ctx context.Context, e logpipe.FailEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mark(ctx)
	r.failed = append(r.failed, e)
}

func (r *recorder) OnRecordDeadLettered(_ context.Context, e logpipe.DeadLetterEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead = append(r.dead, e)
}

func (r *recorder) OnFetch(_ context.Context, e logpipe.FetchEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetches = append(r.fetches, e)
}

func (r *recorder) OnCommit(_ context.Context, e logpipe.CommitEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits = append(r.commits, e)
}

func (r *recorder) OnAssigned(e logpipe.AssignmentEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.assigned = append(r.assigned, e)
}

// Every record taken through the apply path ends in exactly one of
// applied, skipped or failed, after its transaction; sends, fetches,
// commits and headers reach the hooks; Consumer.Lag follows the records.
func TestHooksSeeEveryRecord(t *testing.T) {
	s, b := memorySettings(t)
	rec := &recorder{}
	s.Hooks = []logpipe.Hook{rec}
	ctx := context.Background()
	p, err := logpipe.NewProducer(ctx, s, "hooked")
	require.NoError(t, err)
	for i := range 3 {
		_, err := p.Send(ctx, person(i))
		require.NoError(t, err)
	}
	_, err = p.SendBatch(ctx, []logpipe.Message{person(3), person(4)})
	require.NoError(t, err)
	sendRaw(t, b, "hooked", "bad", []byte("json:{not json"))

	c, err := logpipe.NewConsumer(s, "hooked", logpipe.WithLimit(6), logpipe.WithTransactionSize(4))
	require.NoError(t, err)
	require.NoError(t, c.Register(&people.PersonV1{}))
	assert.Nil(t, c.Lag(), "no lag is known before a fetch")
	require.NoError(t, runIdle(t, c))

	rec.mu.Lock()
	require.Len(t, rec.sent, 5)
	for i, e := range rec.sent {
		assert.NoError(t, e.Err)
		assert.Equal(t, "person", e.Type)
		assert.Equal(t, int64(i), e.Position.Offset)
		assert.Positive(t, e.Bytes)
		assert.Equal(t, i >= 3, e.Batch)
	}
	assert.Len(t, rec.before, 5, "the header added by OnBeforeSend reaches OnBeforeApply, once per sent record")
	assert.Equal(t, "x-type=person", rec.before[0])
	require.Len(t, rec.applied, 5)
	assert.Equal(t, logpipe.ApplyEvent{Position: rec.applied[2].Position, Type: "person", Version: 1, Latency: rec.applied[2].Latency}, rec.applied[2])
	assert.Equal(t, int64(2), rec.applied[2].Offset)
	require.Len(t, rec.skipped, 1)
	assert.Equal(t, "invalid_message", rec.skipped[0].Reason)
	assert.True(t, errors.Is(rec.skipped[0].Err, logpipe.ErrInvalidMessage))
	assert.Empty(t, rec.failed)
	assert.Equal(t, []bool{true, true, true, true, true, true}, rec.ctxOK)
	require.Len(t, rec.commits, 2, "6 records, 4 per transaction")
	assert.Equal(t, 4, rec.commits[0].Records)
	assert.Equal(t, []logpipe.Position{{Topic: "hooked", Offset: 5}}, rec.commits[1].Positions)
	require.NotEmpty(t, rec.fetches)
	assert.Equal(t, 6, rec.fetches[0].Records)
	assert.Equal(t, []logpipe.PartitionLag{{Topic: "hooked", Next: 0, End: 6, Records: 6}}, rec.fetches[0].Lag, "lag at the first fetch: nothing applied")
	assert.Equal(t, []logpipe.PartitionLag{{Topic: "hooked", Next: 6, End: 6, Records: 0}}, c.Lag(), "lag after the run: all applied")
	assert.Equal(t, []logpipe.AssignmentEvent{{Topic: "hooked", Added: []int32{0}}}, rec.assigned)
	n := len(rec.fetches)
	rec.mu.Unlock()

	// A record sent afterwards shows as lag at the next run's fetch.
	_, err = p.Send(ctx, person(7))
	require.NoError(t, err)
	c2, err := logpipe.NewConsumer(s, "hooked", logpipe.WithLimit(1))
	require.NoError(t, err)
	require.NoError(t, c2.Register(&people.PersonV1{}))
	require.NoError(t, runIdle(t, c2))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []logpipe.PartitionLag{{Topic: "hooked", Next: 6, End: 7, Records: 1}}, rec.fetches[n].Lag)
	assert.Equal(t, int64(0), c2.Lag()[0].Records)
}

// A record whose save keeps failing is dead-lettered (the default): the
// hooks hear the others applied and it skipped and dead-lettered.
func TestHooksReportDeadLetter(t *testing.T) {
	s, _ := memorySettings(t)
	rec := &recorder{}
	s.Hooks = []logpipe.Hook{rec}
	ctx := context.Background()
	p, err := logpipe.NewProducer(ctx, s, "dead")
	require.NoError(t, err)
	_, err = p.SendBatch(ctx, []logpipe.Message{person(1), person(2), person(3)})
	require.NoError(t, err)
	c, err := logpipe.NewConsumer(s, "dead", logpipe.WithTransactionSize(3), logpipe.WithRetryPolicy(logpipe.RetryPolicy{MinBackoff: time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, c.Register(&failingPerson{}))
	require.NoError(t, runIdle(t, c))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.applied, 2, "the records before and after it")
	require.Len(t, rec.skipped, 1)
	assert.Equal(t, int64(1), rec.skipped[0].Offset)
	assert.Equal(t, "save", rec.skipped[0].Reason)
	require.Len(t, rec.dead, 1)
	assert.Equal(t, int64(1), rec.dead[0].Offset)
	assert.ErrorIs(t, rec.dead[0].Err, logpipe.ErrSave)
	assert.Empty(t, rec.failed, "the rolled-back attempts are not reported")
}

// A failing save rolls the group back: its records are reported failed,
// none applied.
func TestHooksReportFailedGroup(t *testing.T) {
	s, _ := memorySettings(t)
	rec := &recorder{}
	s.Hooks = []logpipe.Hook{rec}
	ctx := context.Background()
	p, err := logpipe.NewProducer(ctx, s, "failing")
	require.NoError(t, err)
	_, err = p.SendBatch(ctx, []logpipe.Message{person(1), person(2)})
	require.NoError(t, err)
	c, err := logpipe.NewConsumer(s, "failing", logpipe.WithTransactionSize(2), logpipe.WithoutDeadLetters(),
		logpipe.WithRetryPolicy(logpipe.RetryPolicy{MinBackoff: time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, c.Register(&failingPerson{}))
	err = runIdle(t, c)
	require.ErrorIs(t, err, logpipe.ErrSave)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Empty(t, rec.applied)
	require.Len(t, rec.failed, 2)
	assert.Equal(t, int64(1), rec.failed[1].Offset)
	assert.ErrorIs(t, rec.failed[1].Err, logpipe.ErrSave)
	assert.Equal(t, "person", rec.failed[0].Type)
	assert.Equal(t, int64(2), c.Lag()[0].Records, "nothing committed: both records still to apply")
}

// failingPerson's second record fails to save.
type failingPerson struct{ people.PersonV1 }

func (p *failingPerson) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	if rec, _ := logpipe.RecordFrom(ctx); rec.Offset == 1 {
		return errors.New("disk full")
	}
	return p.PersonV1.Save(ctx, tx, instance)
}

// A hook that implements no hook interface is a settings error.
func TestHookOfNoKnownKindIsRefused(t *testing.T) {
	s, _ := memorySettings(t)
	s.Hooks = []logpipe.Hook{struct{}{}}
	_, err := logpipe.NewProducer(context.Background(), s, "t")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Settings.Hooks[0] (struct {}) implements no hook interface")
}
