package kafka

import (
	"errors"
	"fmt"
	"io"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"

	"github.com/logpipe-go/logpipe/backend"
)

// rawRecord is a data record of a fetch response.
type rawRecord struct {
	offset     int64
	key, value []byte
	headers    []backend.Header
	ts         time.Time
}

// controlAbort is the type of a control record that ends an aborted
// transaction (1 ends a committed one).
const controlAbort = 0

// readCommitted returns the records of a read-committed fetch response for
// one partition that are at or after from, in offset order, and the offset
// to fetch next. It leaves out control batches (transaction markers) and the
// batches of the transactions the response lists as aborted, and steps over
// their offsets: next is past everything the response held, so that a
// partition ending in a marker is not fetched again and again.
//
// A batch that holds no record at or after from (a compacted batch emptied
// but kept for its producer state) still moves next past from: the broker
// starts a response at the batch holding from, so from has no record.
func readCommitted(p *fetchAPI.ResponsePartition, from int64) (recs []rawRecord, next int64, err error) {
	next = from
	aborted := p.AbortedTransactions // ascending FirstOffset, as the broker sends them
	abortedProducers := map[int64]bool{}
	batches := 0
	for _, batch := range splitBatches(p.RecordSet.Records) {
		batches++
		records, err := readBatch(batch)
		if err != nil {
			return nil, 0, err
		}
		last := int64(-1)
		if len(records) > 0 {
			last = records[len(records)-1].Offset
			next = max(next, last+1)
		}
		switch b := batch.(type) {
		case *protocol.ControlBatch:
			for _, rec := range records {
				cr, err := protocol.ReadControlRecord(rec)
				if err != nil {
					return nil, 0, fmt.Errorf("logpipe/kafka: control record at offset %d: %w", rec.Offset, err)
				}
				if cr.Type == controlAbort {
					delete(abortedProducers, b.ProducerID)
				}
			}
			continue
		case *protocol.RecordBatch:
			next = max(next, b.BaseOffset)
			for len(aborted) > 0 && aborted[0].FirstOffset <= max(last, b.BaseOffset) {
				abortedProducers[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			if b.Attributes.Transactional() && abortedProducers[b.ProducerID] {
				continue
			}
		}
		for _, rec := range records {
			if rec.Offset < from {
				continue // a batch may start before the offset asked for
			}
			key, err := kafkago.ReadAll(rec.Key)
			if err != nil {
				return nil, 0, err
			}
			value, err := kafkago.ReadAll(rec.Value)
			if err != nil {
				return nil, 0, err
			}
			recs = append(recs, rawRecord{offset: rec.Offset, key: key, value: value, headers: fromKafkaHeaders(rec.Headers), ts: rec.Time})
		}
	}
	if batches > 0 && next == from {
		next = from + 1
	}
	return recs, next, nil
}

// splitBatches returns the record batches of a response's record set.
func splitBatches(r protocol.RecordReader) []protocol.RecordReader {
	switch s := r.(type) {
	case nil:
		return nil
	case *protocol.RecordStream:
		return s.Records
	default:
		return []protocol.RecordReader{r}
	}
}

// readBatch reads every record of one batch. kafka-go's readers reuse the
// Record they return, so each is copied.
func readBatch(b protocol.RecordReader) ([]*protocol.Record, error) {
	var out []*protocol.Record
	for {
		rec, err := b.ReadRecord()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		cp := *rec
		out = append(out, &cp)
	}
}
