package kinesis

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/wait"
)

// Limits of one PutRecords call.
const (
	maxBatchRecords = 500
	maxBatchBytes   = 5 << 20
)

// batchEntry is one message of a SendBatch, with its place in the input.
type batchEntry struct {
	idx   int
	key   string
	keyed bool
	data  []byte
	// retries counts the resends of this entry after failures that may
	// have stored it (InternalFailure, ServiceUnavailable).
	retries int
	// maybe says that a failed try may have stored the entry.
	maybe bool
}

func (e batchEntry) size() int { return len(e.key) + len(e.data) }

// SendBatch writes msgs with PutRecords, 500 records or 5 MiB a call, and
// returns their positions in the order of msgs.
//
// Kinesis does not let PutRecords pass SequenceNumberForOrdering, and a
// call may fail for some entries and succeed for later ones; retrying only
// the failed entries could then put a record after a later one with the same
// key. So a call carries at most one record per key: the next record of a
// key is sent only once the previous one is written. Records with distinct
// keys (the common case) go 500 to a call; records sharing one key go one
// per call.
//
// Failed entries and failed calls are retried as in Send: throttling until
// no record has been written for Config.SendTimeout (the clock restarts
// whenever a call writes some records), failures after which a record may
// have been stored (InternalFailure, ServiceUnavailable, timeouts, resets,
// 5xx) only Config.MaxSendRetries times, since a retry may write the record
// twice.
//
// On error, the positions of the records already written are filled in and
// the others are zero, and the error is a *backend.BatchError with each
// record's outcome: written; maybe written (backend.ErrMaybeWritten: an
// InternalFailure or ServiceUnavailable entry, or a call that got no answer
// or a server error, for this record now or on an earlier try); or not
// written (backend.ErrNotWritten: throttled until SendTimeout, refused, or
// never sent because the batch stopped at another record's failure).
func (p *Producer) SendBatch(ctx context.Context, msgs []backend.Message) ([]backend.Position, error) {
	if p.closed.Load() {
		return make([]backend.Position, len(msgs)), backend.AsBatchError(backend.MarkNotWritten(ErrClosed), len(msgs), nil)
	}
	positions := make([]backend.Position, len(msgs))
	// Streams in the order they first appear, each with its entries.
	var streams []string
	byStream := make(map[string][]batchEntry)
	for i, m := range msgs {
		key, keyed, err := partitionKey(m)
		if err != nil {
			return positions, backend.AsBatchError(backend.MarkNotWritten(fmt.Errorf("logpipe/kinesis: batch record %d: %w", i, err)), len(msgs), nil)
		}
		if _, ok := byStream[m.Topic]; !ok {
			streams = append(streams, m.Topic)
		}
		byStream[m.Topic] = append(byStream[m.Topic], batchEntry{idx: i, key: key, keyed: keyed, data: m.Value})
	}
	errs := make([]error, len(msgs))
	for si, s := range streams {
		if err := p.sendStream(ctx, s, byStream[s], positions, errs); err != nil {
			for _, later := range streams[si+1:] {
				for _, e := range byStream[later] {
					errs[e.idx] = backend.MarkNotWritten(fmt.Errorf("logpipe/kinesis: record %d to stream %q not sent, because the batch stopped: %w", e.idx, later, err))
				}
			}
			return positions, backend.NewBatchError(positions, errs)
		}
	}
	return positions, nil
}

// sendStream writes entries, all to stream, filling in positions. When it
// gives up, it sets the error of every entry not written in errs and
// returns the error it gave up on.
func (p *Producer) sendStream(ctx context.Context, stream string, entries []batchEntry, positions []backend.Position, errs []error) error {
	// One queue per key, keys in the order they first appear.
	var keys []string
	queues := make(map[string][]batchEntry)
	for _, e := range entries {
		if _, ok := queues[e.key]; !ok {
			keys = append(keys, e.key)
		}
		queues[e.key] = append(queues[e.key], e)
	}
	// giveUp sets the errors of the entries left: failed (the entries
	// whose own failure ended the batch, with their error and outcome) and
	// the others, not sent now, which may have been stored by an earlier
	// try.
	giveUp := func(err error, failed map[int]error) error {
		for _, k := range keys {
			for _, e := range queues[k] {
				ferr, ok := failed[e.idx]
				switch {
				case ok && e.maybe:
					errs[e.idx] = backend.MarkMaybeWritten(ferr)
				case ok:
					errs[e.idx] = backend.MarkNotWritten(ferr)
				case e.maybe:
					errs[e.idx] = backend.MarkMaybeWritten(fmt.Errorf("logpipe/kinesis: record %d (partition key %q) to stream %q, which an earlier try may have stored, not sent again: %w", e.idx, e.key, stream, err))
				default:
					errs[e.idx] = backend.MarkNotWritten(fmt.Errorf("logpipe/kinesis: record %d (partition key %q) to stream %q not sent: %w", e.idx, e.key, stream, err))
				}
			}
		}
		return err
	}
	r := p.newSendRetry(stream, len(entries))
	for len(keys) > 0 {
		call := nextCall(keys, queues)
		in := &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: make([]types.PutRecordsRequestEntry, len(call))}
		for i, e := range call {
			in.Records[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(e.key), Data: e.data}
		}
		out, err := withTimeout(ctx, r.callTimeout(), func(ctx context.Context) (*kinesis.PutRecordsOutput, error) {
			return p.api.PutRecords(ctx, in, noSDKRetries)
		})
		if err != nil {
			err = p.missing(stream, err)
			if mayBeStored(err) {
				for _, e := range call {
					queues[e.key][0].maybe = true
				}
			}
			if err := r.again(ctx, err); err != nil {
				return giveUp(fmt.Errorf("logpipe/kinesis: put %d records to stream %q: %w", len(call), stream, err), nil)
			}
			continue
		}
		if len(out.Records) != len(call) {
			for _, e := range call {
				queues[e.key][0].maybe = true
			}
			return giveUp(fmt.Errorf("logpipe/kinesis: put %d records to stream %q: the response has %d results", len(call), stream, len(out.Records)), nil)
		}
		var lastFailure error
		progress := false
		failed := map[int]error{}
		for i, res := range out.Records {
			e := call[i]
			if res.ErrorCode != nil {
				code := aws.ToString(res.ErrorCode)
				failure := fmt.Errorf("%s: %s", code, aws.ToString(res.ErrorMessage))
				switch entryErrorKind(code) {
				case entryNotStored:
				case entryMaybeStored:
					queues[e.key][0].maybe = true
					if e.retries >= p.cfg.MaxSendRetries {
						failed[e.idx] = fmt.Errorf("logpipe/kinesis: put record %d (partition key %q) to stream %q: %w (the record may have been stored; retried %d times, MaxSendRetries %d)", e.idx, e.key, stream, failure, e.retries, p.cfg.MaxSendRetries)
					}
					queues[e.key][0].retries++
				default:
					failed[e.idx] = fmt.Errorf("logpipe/kinesis: put record %d (partition key %q) to stream %q: %w", e.idx, e.key, stream, failure)
				}
				lastFailure = failure
				continue
			}
			progress = true
			seq := aws.ToString(res.SequenceNumber)
			positions[e.idx] = backend.Position{Topic: stream, Shard: aws.ToString(res.ShardId), SequenceNumber: seq}
			if e.keyed {
				p.seqs.put(stream, e.key, seq)
			}
			queues[e.key] = queues[e.key][1:]
		}
		if len(failed) > 0 {
			var first error
			for _, e := range call {
				if err, ok := failed[e.idx]; ok {
					first = err
					break
				}
			}
			return giveUp(first, failed)
		}
		keys = pruneEmpty(keys, queues)
		if progress || lastFailure == nil {
			// Some records got through: send the next call (with the
			// failed entries) at once. Delays start, and grow, only
			// while nothing gets through.
			r.progress()
			continue
		}
		d := r.b.Next()
		if time.Now().Add(d).After(r.deadline) {
			return giveUp(fmt.Errorf("logpipe/kinesis: put records to stream %q: %w: no record written within SendTimeout %s (last failure: %w)", stream, ErrSendTimeout, r.timeout, lastFailure), nil)
		}
		if serr := wait.Sleep(ctx, d); serr != nil {
			return giveUp(fmt.Errorf("logpipe/kinesis: put records to stream %q: %w (last failure: %v)", stream, serr, lastFailure), nil)
		}
	}
	return nil
}

// nextCall takes the first pending record of each key, in key order, within
// the limits of one PutRecords call.
func nextCall(keys []string, queues map[string][]batchEntry) []batchEntry {
	var call []batchEntry
	bytes := 0
	for _, k := range keys {
		e := queues[k][0]
		if len(call) == maxBatchRecords || (len(call) > 0 && bytes+e.size() > maxBatchBytes) {
			break
		}
		call = append(call, e)
		bytes += e.size()
	}
	return call
}

// pruneEmpty drops the keys whose queue is empty, keeping the order.
func pruneEmpty(keys []string, queues map[string][]batchEntry) []string {
	out := keys[:0]
	for _, k := range keys {
		if len(queues[k]) > 0 {
			out = append(out, k)
		} else {
			delete(queues, k)
		}
	}
	return out
}

// Kinds of PutRecords entry failures.
const (
	entryPermanent   = iota // will fail again
	entryNotStored          // refused, nothing stored: retry until SendTimeout
	entryMaybeStored        // may have been stored: retry MaxSendRetries times
)

// entryErrorKind classifies the error code of a failed PutRecords entry.
func entryErrorKind(code string) int {
	switch code {
	case "ProvisionedThroughputExceededException", "KMSThrottlingException":
		return entryNotStored
	case "InternalFailure", "ServiceUnavailable":
		return entryMaybeStored
	}
	return entryPermanent
}
