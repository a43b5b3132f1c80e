package logpipe

import (
	"context"
	"fmt"
	"time"

	"github.com/logpipe-go/logpipe/backend"
)

// Hook is a value that logpipe calls when something happens to a record:
// it implements one or more of the Hook... interfaces of this file, which
// logpipe finds by type assertion when a Producer or Consumer is created
// (as franz-go's kgo.Hook). Put hooks in Settings.Hooks; they are called in
// order. A hook must be safe for concurrent use, must not block, and must
// not keep the slices it is given. The plugin packages logpipeprom
// (Prometheus) and logpipeotel (OpenTelemetry) are hooks.
//
// With no hook set, logpipe builds no event: hooks cost nothing then
// (BenchmarkHooks).
type Hook any

// Producer hooks.

// HookBeforeSend is called before each message is handed to the backend.
// It may add headers to the outgoing record (r.Headers = append(...)), to
// carry a trace context for example, and return a context carrying what it
// started (a span): the OnRecordSent of the same message receives that
// context. Return ctx itself otherwise.
//
// Headers reach the consumer on Kafka (and the in-memory broker);
// django-logpipe ignores them, so they never break interoperation. Kinesis
// has no headers: its backend drops them.
type HookBeforeSend interface {
	OnBeforeSend(ctx context.Context, r *OutgoingRecord) context.Context
}

// OutgoingRecord is a message about to be sent, as HookBeforeSend sees it.
type OutgoingRecord struct {
	// Topic is the topic or stream.
	Topic string
	// Key is the record key; do not modify it.
	Key []byte
	// Type and Version are the message's type and version.
	Type    string
	Version int
	// Headers are the record's headers; a hook may append to them.
	Headers []Header
}

// HookRecordSent is called once per message after the backend
// acknowledged it (Err nil) or gave up on it.
type HookRecordSent interface {
	OnRecordSent(ctx context.Context, e SendEvent)
}

// SendEvent describes one message sent, or not.
type SendEvent struct {
	// Topic is the topic or stream.
	Topic string
	// Type and Version are the message's type and version.
	Type    string
	Version int
	// Position is where the record went, when Err is nil.
	Position Position
	// Bytes is the record's size: key, value and headers.
	Bytes int
	// Latency is how long the backend took to acknowledge (for a
	// SendBatch, the whole batch).
	Latency time.Duration
	// Batch is true for a message of a SendBatch.
	Batch bool
	// Err is why the message was not sent; nil when it was.
	Err error
}

// HookSendRetried is called when a backend tries a send again (Kafka: a
// produce request refused or failed; see RetryEvent.Safe), from the
// backend's goroutine.
type HookSendRetried interface {
	OnSendRetried(e RetryEvent)
}

// RetryEvent describes a send tried again.
type RetryEvent = backend.Retry

// Consumer hooks.

// FetchedRecord is a record as the backend fetched it: position, key,
// value, timestamp and headers.
type FetchedRecord = backend.Record

// HookBeforeApply is called before a record is decoded and applied. It may
// return a context carrying what it started (a span); LookupInstance and
// Save run under that context, and the record's OnRecordApplied,
// OnRecordSkipped or OnApplyFailed (exactly one of them) receives it.
// Return ctx itself otherwise. rec.Headers carry what the producer's
// HookBeforeSend added (Kafka only).
type HookBeforeApply interface {
	OnBeforeApply(ctx context.Context, rec *FetchedRecord) context.Context
}

// HookRecordApplied is called for each record whose LookupInstance and
// Save succeeded, once its transaction (and offset) committed.
type HookRecordApplied interface {
	OnRecordApplied(ctx context.Context, e ApplyEvent)
}

// ApplyEvent describes a record applied.
type ApplyEvent struct {
	// Position is where the record was read.
	Position
	// Type and Version are the envelope's type and version.
	Type    string
	Version int
	// Latency is how long decoding, LookupInstance and Save took (not the
	// transaction's commit).
	Latency time.Duration
}

// HookRecordSkipped is called for each record skipped as bad (see
// SkipEvent.Reason), once its offset committed.
type HookRecordSkipped interface {
	OnRecordSkipped(ctx context.Context, e SkipEvent)
}

// SkipEvent describes a record skipped.
type SkipEvent struct {
	// Position is where the record was read.
	Position
	// Type and Version are the envelope's type and version text, when it
	// could be parsed.
	Type, Version string
	// Reason names the error kind, for a metric label: "invalid_message",
	// "ignored_type", "unknown_type", "unknown_version" or "validation".
	Reason string
	// Err is the *RecordError.
	Err error
}

// HookApplyFailed is called for each record that was not committed: its
// Save failed, another record of its transaction failed, the transaction
// or the offset commit failed, or the consumer stopped (WithThrowErrors, a
// cancelled context). The record is applied again on the next run.
type HookApplyFailed interface {
	OnApplyFailed(ctx context.Context, e FailEvent)
}

// FailEvent describes a record not committed.
type FailEvent struct {
	// Position is where the record was read.
	Position
	// Type is the envelope's type, when known.
	Type string
	// Err is why: the record's own error, or the transaction's.
	Err error
}

// HookRecordDeadLettered is called when a record that cannot be applied is
// moved to a dead-letter topic or table, once that is committed.
type HookRecordDeadLettered interface {
	OnRecordDeadLettered(ctx context.Context, e DeadLetterEvent)
}

// DeadLetterEvent describes a record dead-lettered.
type DeadLetterEvent struct {
	// Position is where the record was read.
	Position
	// Type is the envelope's type, when known.
	Type string
	// Reason names the error kind, as SkipEvent.Reason (or "save").
	Reason string
	// Err is why it could not be applied.
	Err error
}

// HookFetch is called after every fetch from the backend, including empty
// ones (about once per poll interval when idle), so that lag gauges stay
// current.
type HookFetch interface {
	OnFetch(ctx context.Context, e FetchEvent)
}

// FetchEvent describes one fetch.
type FetchEvent struct {
	// Topic is the topic or stream.
	Topic string
	// Records and Bytes are what the fetch returned (key, value, headers).
	Records, Bytes int
	// Lag is the consumer's lag on every partition or shard it reads, as
	// Consumer.Lag returns it (nil when the backend does not report it).
	Lag []PartitionLag
}

// HookCommit is called after each transaction that applied records and
// committed their offsets (or, with offsets in the broker, after the broker
// commit).
type HookCommit interface {
	OnCommit(ctx context.Context, e CommitEvent)
}

// CommitEvent describes one commit.
type CommitEvent struct {
	// Topic is the topic or stream.
	Topic string
	// Records is how many records the transaction took (applied or
	// skipped).
	Records int
	// Positions are the last record committed of each partition or shard.
	Positions []Position
	// Latency is from the first record's apply to the commit.
	Latency time.Duration
}

// HookAssigned is called when a consumer starts or stops reading
// partitions or shards: at the start of Run, for partitions added to a
// topic and for shards found after a reshard. Scale-out modes (consumer
// groups, leases) will report rebalances and lease changes through it.
type HookAssigned interface {
	OnAssigned(e AssignmentEvent)
}

// AssignmentEvent describes partitions or shards assigned or revoked.
type AssignmentEvent = backend.Assignment

// validateHooks reports hooks that implement none of the hook interfaces.
func validateHooks(hooks []Hook) []error {
	var errs []error
	for i, h := range hooks {
		switch h.(type) {
		case HookBeforeSend, HookRecordSent, HookSendRetried, HookBeforeApply, HookRecordApplied,
			HookRecordSkipped, HookApplyFailed, HookRecordDeadLettered, HookFetch, HookCommit, HookAssigned:
		default:
			errs = append(errs, fmt.Errorf("Settings.Hooks[%d] (%T) implements no hook interface (HookRecordSent, HookRecordApplied, ...)", i, h))
		}
	}
	return errs
}
