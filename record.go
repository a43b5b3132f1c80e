package logpipe

import (
	"context"
	"time"
)

// Record describes the record a consumer is applying. LookupInstance and
// Save find it in their context with RecordFrom, for logging where a row
// came from or for keeping the source position beside it.
type Record struct {
	// Position is where the record was read: topic, partition and offset
	// (Kafka), or stream, shard and sequence number (Kinesis).
	Position
	// Key is the record key (Kinesis: the partition key).
	Key []byte
	// Timestamp is the record's timestamp (Kinesis: its arrival time).
	Timestamp time.Time
	// Headers are the record's headers (none on Kinesis).
	Headers []Header
	// Type and Version are the envelope's message type and version.
	Type    string
	Version int
	// ProducerID is the envelope's "producer", or "" when it has none.
	ProducerID string
}

type recordKeyType struct{}

// RecordFrom returns the record being applied, from the context a consumer
// passes to LookupInstance and Save; ok is false elsewhere.
func RecordFrom(ctx context.Context) (rec *Record, ok bool) {
	rec, ok = ctx.Value(recordKeyType{}).(*Record)
	return rec, ok
}

func withRecord(ctx context.Context, rec *Record) context.Context {
	if s, ok := ctx.Value(applySlotKey{}).(*applySlot); ok {
		s.rec = rec // for the hooks (observe.go)
	}
	return context.WithValue(ctx, recordKeyType{}, rec)
}
