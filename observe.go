package logpipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/logpipe-go/logpipe/backend"
)

// The call sites of the hooks. Producer and Consumer hold a *producerObs
// and a *consumerObs; a nil producerObs, and a consumerObs without hooks,
// build no event, so that hooks cost nothing when none is set.

// hookSet is Settings.Hooks sorted by interface.
type hookSet struct {
	beforeSend []HookBeforeSend
	sent       []HookRecordSent
	retried    []HookSendRetried
	before     []HookBeforeApply
	applied    []HookRecordApplied
	skipped    []HookRecordSkipped
	failed     []HookApplyFailed
	dead       []HookRecordDeadLettered
	fetch      []HookFetch
	commit     []HookCommit
	assigned   []HookAssigned
}

func newHookSet(hooks []Hook) hookSet {
	var s hookSet
	for _, h := range hooks {
		if x, ok := h.(HookBeforeSend); ok {
			s.beforeSend = append(s.beforeSend, x)
		}
		if x, ok := h.(HookRecordSent); ok {
			s.sent = append(s.sent, x)
		}
		if x, ok := h.(HookSendRetried); ok {
			s.retried = append(s.retried, x)
		}
		if x, ok := h.(HookBeforeApply); ok {
			s.before = append(s.before, x)
		}
		if x, ok := h.(HookRecordApplied); ok {
			s.applied = append(s.applied, x)
		}
		if x, ok := h.(HookRecordSkipped); ok {
			s.skipped = append(s.skipped, x)
		}
		if x, ok := h.(HookApplyFailed); ok {
			s.failed = append(s.failed, x)
		}
		if x, ok := h.(HookRecordDeadLettered); ok {
			s.dead = append(s.dead, x)
		}
		if x, ok := h.(HookFetch); ok {
			s.fetch = append(s.fetch, x)
		}
		if x, ok := h.(HookCommit); ok {
			s.commit = append(s.commit, x)
		}
		if x, ok := h.(HookAssigned); ok {
			s.assigned = append(s.assigned, x)
		}
	}
	return s
}

// onRetry is the backend's ProducerOptions.OnRetry for hooks; nil when no
// hook listens.
func onRetry(hooks []Hook) func(backend.Retry) {
	hs := newHookSet(hooks).retried
	if len(hs) == 0 {
		return nil
	}
	return func(r backend.Retry) {
		for _, h := range hs {
			h.OnSendRetried(r)
		}
	}
}

// onAssign is the backend's ConsumerOptions.OnAssign for hooks; nil when
// no hook listens.
func onAssign(hooks []Hook) func(backend.Assignment) {
	hs := newHookSet(hooks).assigned
	if len(hs) == 0 {
		return nil
	}
	return func(a backend.Assignment) {
		for _, h := range hs {
			h.OnAssigned(a)
		}
	}
}

// producerObs calls a producer's hooks.
type producerObs struct {
	hooks hookSet
}

// newProducerObs returns nil when no producer hook is set.
func newProducerObs(hooks []Hook) *producerObs {
	s := newHookSet(hooks)
	if len(s.beforeSend) == 0 && len(s.sent) == 0 {
		return nil
	}
	return &producerObs{hooks: s}
}

// beforeSend lets the hooks add headers to m and start what they time.
func (o *producerObs) beforeSend(ctx context.Context, m *backend.Message, msg Message) context.Context {
	if len(o.hooks.beforeSend) == 0 {
		return ctx
	}
	r := OutgoingRecord{Topic: m.Topic, Key: m.Key, Type: msg.MessageType(), Version: msg.Version(), Headers: m.Headers}
	for _, h := range o.hooks.beforeSend {
		ctx = h.OnBeforeSend(ctx, &r)
	}
	m.Headers = r.Headers
	return ctx
}

// sent reports m sent (err nil) or not.
func (o *producerObs) sent(ctx context.Context, m *backend.Message, msg Message, pos Position, latency time.Duration, batch bool, err error) {
	e := SendEvent{
		Topic: m.Topic, Type: msg.MessageType(), Version: msg.Version(), Position: pos,
		Bytes: recordBytes(m.Key, m.Value, m.Headers), Latency: latency, Batch: batch, Err: err,
	}
	for _, h := range o.hooks.sent {
		h.OnRecordSent(ctx, e)
	}
}

func recordBytes(key, value []byte, headers []Header) int {
	n := len(key) + len(value)
	for _, h := range headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// consumerObs calls a consumer's hooks and keeps what Consumer.Lag needs.
// Its methods other than lag are called from Run's goroutine only.
type consumerObs struct {
	topic       string
	hooks       hookSet
	perRecord   bool // a per-record hook is set
	throwErrors bool

	pending    []pendingApply // the records of the group being applied
	groupStart time.Time

	mu   sync.Mutex
	ends []backend.Lag      // what the backend's last fetch learned
	next map[int32]int64    // the next offset to apply, per partition
	seen map[int32]struct{} // partitions with a record taken by Run
}

// pendingApply is a record taken through the apply path whose transaction
// has not committed yet.
type pendingApply struct {
	ctx     context.Context
	pos     Position
	typ     string
	version int
	latency time.Duration
	err     error // nil: applied; else skipped (the group goes on) or failed
	dead    bool  // skipped into the dead-letter table
}

func newConsumerObs(topic string, hooks []Hook, throwErrors bool) *consumerObs {
	s := newHookSet(hooks)
	return &consumerObs{
		topic: topic, hooks: s, throwErrors: throwErrors,
		perRecord: len(s.before)+len(s.applied)+len(s.skipped)+len(s.failed)+len(s.dead)+len(s.commit) > 0,
		next:      map[int32]int64{},
		seen:      map[int32]struct{}{},
	}
}

// begin forgets the positions of an earlier Run (offsets may have been
// reset since).
func (o *consumerObs) begin() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ends = nil
	clear(o.next)
	clear(o.seen)
	o.pending = o.pending[:0]
}

// fetched records what a fetch returned and learned, and calls the fetch
// hooks.
func (o *consumerObs) fetched(ctx context.Context, bc backend.Consumer, recs []backend.Record) {
	lr, _ := bc.(backend.LagReporter)
	o.mu.Lock()
	if lr != nil {
		o.ends = lr.Lag()
	}
	for i := range recs {
		r := &recs[i]
		if r.Shard != "" || (i > 0 && r.Partition == recs[i-1].Partition) {
			continue // Kinesis counts no records; a partition's first record is enough
		}
		if _, ok := o.seen[r.Partition]; !ok {
			o.seen[r.Partition] = struct{}{}
			o.next[r.Partition] = r.Offset
		}
	}
	o.mu.Unlock()
	if len(o.hooks.fetch) == 0 {
		return
	}
	e := FetchEvent{Topic: o.topic, Records: len(recs), Lag: o.lag()}
	for i := range recs {
		e.Bytes += recordBytes(recs[i].Key, recs[i].Value, recs[i].Headers)
	}
	for _, h := range o.hooks.fetch {
		h.OnFetch(ctx, e)
	}
}

// applySlot receives, through the context, the Record that dispatch builds
// (see withRecord), so that the hooks learn the type and version of a
// record applied.
type applySlot struct{ rec *Record }

type applySlotKey struct{}

// beforeApply starts the apply of rec: it calls the HookBeforeApply hooks
// and returns the context to apply rec under, and the start time. Without
// per-record hooks it returns ctx and the zero time.
func (o *consumerObs) beforeApply(ctx context.Context, rec *backend.Record) (context.Context, time.Time) {
	if !o.perRecord {
		return ctx, time.Time{}
	}
	ctx = context.WithValue(ctx, applySlotKey{}, &applySlot{})
	if len(o.hooks.before) > 0 {
		cp := *rec // so that rec itself does not escape without hooks
		for _, h := range o.hooks.before {
			ctx = h.OnBeforeApply(ctx, &cp)
		}
	}
	now := time.Now()
	if len(o.pending) == 0 {
		o.groupStart = now
	}
	return ctx, now
}

// afterApply notes the outcome of one record's apply; the hooks hear of it
// once its transaction ended (groupDone).
func (o *consumerObs) afterApply(ctx context.Context, rec *backend.Record, start time.Time, err error) {
	if !o.perRecord {
		return
	}
	p := pendingApply{ctx: ctx, pos: rec.Position, latency: time.Since(start), err: err}
	if s, ok := ctx.Value(applySlotKey{}).(*applySlot); ok && s.rec != nil {
		p.typ, p.version = s.rec.Type, s.rec.Version
	}
	var re *RecordError
	if errors.As(err, &re) && p.typ == "" {
		p.typ = re.Type
	}
	// A group applied again (a retried transaction) starts over: the
	// earlier attempt's records failed.
	for i := range o.pending {
		if o.pending[i].pos == p.pos {
			o.failPending(o.pending[i:], errRetried)
			o.pending = o.pending[:i]
			break
		}
	}
	o.pending = append(o.pending, p)
}

var errRetried = errors.New("logpipe: the transaction was applied again")

// groupDone ends the group of recs, which committed when err is nil: the
// positions move and the hooks hear of every record.
func (o *consumerObs) groupDone(ctx context.Context, recs []backend.Record, err error) {
	if err == nil {
		o.mu.Lock()
		for i := range recs {
			r := &recs[i]
			if r.Shard != "" || (i+1 < len(recs) && recs[i+1].Partition == r.Partition) {
				continue // a run of one partition's records: its last is enough
			}
			o.seen[r.Partition] = struct{}{}
			o.next[r.Partition] = r.Offset + 1
		}
		o.mu.Unlock()
	}
	if !o.perRecord {
		return
	}
	defer func() {
		clear(o.pending) // drop the contexts
		o.pending = o.pending[:0]
	}()
	if err != nil {
		o.failPending(o.pending, err)
		return
	}
	for i := range o.pending {
		p := &o.pending[i]
		if p.err == nil {
			e := ApplyEvent{Position: p.pos, Type: p.typ, Version: p.version, Latency: p.latency}
			for _, h := range o.hooks.applied {
				h.OnRecordApplied(p.ctx, e)
			}
			continue
		}
		var re *RecordError
		e := SkipEvent{Position: p.pos, Type: p.typ, Err: p.err}
		if errors.As(p.err, &re) {
			e.Version = re.Version
			e.Reason = reasonOf(re.Kind)
		}
		for _, h := range o.hooks.skipped {
			h.OnRecordSkipped(p.ctx, e)
		}
		if p.dead {
			d := DeadLetterEvent{Position: p.pos, Type: p.typ, Reason: e.Reason, Err: p.err}
			for _, h := range o.hooks.dead {
				h.OnRecordDeadLettered(p.ctx, d)
			}
		}
	}
	if len(o.hooks.commit) > 0 && len(recs) > 0 {
		last := lastPerPartition(recs)
		e := CommitEvent{Topic: o.topic, Records: len(recs), Positions: make([]Position, len(last)), Latency: time.Since(o.groupStart)}
		for i, r := range last {
			e.Positions[i] = r.Position
		}
		for _, h := range o.hooks.commit {
			h.OnCommit(ctx, e)
		}
	}
}

func (o *consumerObs) failPending(ps []pendingApply, err error) {
	for i := range ps {
		p := &ps[i]
		e := FailEvent{Position: p.pos, Type: p.typ, Err: err}
		if p.err != nil && (errors.Is(p.err, ErrSave) || o.throwErrors) {
			e.Err = p.err // the record that stopped the group
		}
		for _, h := range o.hooks.failed {
			h.OnApplyFailed(p.ctx, e)
		}
	}
}

// reasonOf names an error kind for SkipEvent.Reason.
func reasonOf(kind error) string {
	switch kind {
	case ErrInvalidMessage:
		return "invalid_message"
	case ErrIgnoredType:
		return "ignored_type"
	case ErrUnknownType:
		return "unknown_type"
	case ErrUnknownVersion:
		return "unknown_version"
	case ErrValidation:
		return "validation"
	case ErrSave:
		return "save"
	}
	return "other"
}

// sendObserved is Send with hooks.
func (p *Producer) sendObserved(ctx context.Context, msg Message, m backend.Message) (Position, error) {
	ctx = p.obs.beforeSend(ctx, &m, msg)
	start := time.Now()
	pos, err := p.backend.Send(ctx, m)
	if err != nil {
		err = fmt.Errorf("logpipe: send %s version %d (key %q) to %s: %w", msg.MessageType(), msg.Version(), m.Key, p.topic, err)
	}
	p.obs.sent(ctx, &m, msg, pos, time.Since(start), false, err)
	return pos, err
}

// sendBatchObserved is SendBatch with hooks: each message has its own
// context from HookBeforeSend; all share the batch's latency.
func (p *Producer) sendBatchObserved(ctx context.Context, msgs []Message, batch []backend.Message) ([]Position, error) {
	ctxs := make([]context.Context, len(batch))
	for i := range batch {
		ctxs[i] = p.obs.beforeSend(ctx, &batch[i], msgs[i])
	}
	start := time.Now()
	out, err := p.sendBatch(ctx, batch)
	latency := time.Since(start)
	for i := range batch {
		var pos Position
		var merr error
		if i < len(out) && out[i].Topic != "" {
			pos = out[i]
		} else {
			merr = err
			if merr == nil {
				merr = errNotSent
			}
		}
		p.obs.sent(ctxs[i], &batch[i], msgs[i], pos, latency, true, merr)
	}
	return out, err
}

var errNotSent = errors.New("logpipe: not sent")

// restart forgets the records of an attempt at a group that was rolled back
// to be applied again (see applyGroup): the next attempt reports them anew.
func (o *consumerObs) restart() {
	if !o.perRecord {
		return
	}
	clear(o.pending)
	o.pending = o.pending[:0]
}

// skip notes a record of the group that is skipped (or dead-lettered, with
// dead) without going through the apply path in this attempt.
func (o *consumerObs) skip(ctx context.Context, rec *backend.Record, err error, dead bool) {
	if !o.perRecord {
		return
	}
	ctx, start := o.beforeApply(ctx, rec)
	o.afterApply(ctx, rec, start, err)
	o.pending[len(o.pending)-1].dead = dead
}

// markDead marks the record just noted by afterApply as dead-lettered.
func (o *consumerObs) markDead() {
	if o.perRecord && len(o.pending) > 0 {
		o.pending[len(o.pending)-1].dead = true
	}
}
