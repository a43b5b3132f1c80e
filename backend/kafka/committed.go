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

// scanCommitted passes emit the records of a read-committed fetch response
// for one partition that are at or after from, in offset order, and returns
// the offset to fetch next. It leaves out control batches (transaction
// markers) and the batches of the transactions the response lists as
// aborted, and steps over their offsets: next is past everything the
// response held, so that a partition ending in a marker is not fetched
// again and again. An error of emit ends the scan and is returned.
//
// This is the filtering Kafka's Java consumer does (CompletedFetch): a
// transactional batch is dropped while its producer has an aborted
// transaction begun at or before the batch, until that producer's abort
// marker.
//
// A batch that holds no record at or after from (a compacted batch emptied
// but kept for its producer state) still moves next past from: the broker
// starts a response at the batch holding from, so from has no record.
//
// Each record is copied out of the response as emit takes it, and its key
// and value are then released, so that a reader holds the decoded response
// and no copy of all of it, and kafka-go's pages go back to its pool for
// the next response. It also reports the sizes of the response's batches
// (batchStats), from which the next request's size is chosen.
func scanCommitted(p *fetchAPI.ResponsePartition, from int64, emit func(rawRecord) error) (next int64, stats batchStats, err error) {
	s := scan{from: from, next: from, aborted: p.AbortedTransactions, abortedProducers: map[int64]bool{}, emit: emit}
	for _, batch := range splitBatches(p.RecordSet.Records) {
		if err := s.batch(batch); err != nil {
			return 0, s.stats, err
		}
	}
	if s.stats.batches > 0 && s.next == from {
		s.next = from + 1
	}
	return s.next, s.stats, nil
}

// scan is the state of scanCommitted over one response.
type scan struct {
	from, next       int64
	aborted          []fetchAPI.ResponseTransaction // ascending FirstOffset, as the broker sends them
	abortedProducers map[int64]bool
	emit             func(rawRecord) error
	stats            batchStats
}

// batch scans one record batch.
func (s *scan) batch(batch protocol.RecordReader) error {
	var (
		producer, base int64 = -1, -1
		control, skip  bool
	)
	switch b := batch.(type) {
	case *protocol.ControlBatch:
		producer, base, control = b.ProducerID, b.BaseOffset, true
	case *protocol.RecordBatch:
		producer, base = b.ProducerID, b.BaseOffset
		skip = b.Attributes.Transactional()
	}
	if base >= 0 {
		s.next = max(s.next, base)
		// A transaction's first offset is the base offset of its first
		// batch, so the aborted transactions begun at or before this batch
		// are all those its own transaction can be.
		for len(s.aborted) > 0 && s.aborted[0].FirstOffset <= base {
			s.abortedProducers[s.aborted[0].ProducerID] = true
			s.aborted = s.aborted[1:]
		}
		skip = skip && s.abortedProducers[producer]
	}
	size := batchOverhead
	defer func() { s.stats.add(size) }()
	for {
		rec, err := batch.ReadRecord() // reused by the reader: used before the next call
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		size += recordSize(rec)
		s.next = max(s.next, rec.Offset+1)
		switch {
		case control:
			cr, err := protocol.ReadControlRecord(rec) // closes the key and value
			if err != nil {
				return fmt.Errorf("logpipe/kafka: control record at offset %d: %w", rec.Offset, err)
			}
			if cr.Type == controlAbort {
				delete(s.abortedProducers, producer)
			}
		case skip || rec.Offset < s.from: // aborted, or before the offset asked for (a batch may start before it)
			release(rec)
		default:
			out, err := copyRecord(rec)
			release(rec)
			if err != nil {
				return err
			}
			if err := s.emit(out); err != nil {
				return err
			}
		}
	}
}

func copyRecord(rec *protocol.Record) (rawRecord, error) {
	key, err := kafkago.ReadAll(rec.Key)
	if err != nil {
		return rawRecord{}, err
	}
	value, err := kafkago.ReadAll(rec.Value)
	if err != nil {
		return rawRecord{}, err
	}
	// Headers are copied: their values point into the batch's page too.
	var headers []backend.Header
	for _, h := range rec.Headers {
		headers = append(headers, backend.Header{Key: h.Key, Value: append([]byte(nil), h.Value...)})
	}
	return rawRecord{offset: rec.Offset, key: key, value: value, headers: headers, ts: rec.Time}, nil
}

// release closes rec's key and value. Each holds a reference to the 64 KiB
// page kafka-go decoded its batch into (one page per batch, however small);
// once all are closed the page goes back to kafka-go's pool and serves the
// next response, instead of becoming 64 KiB of garbage per one-record
// batch. Closing twice does nothing.
func release(rec *protocol.Record) {
	if rec.Key != nil {
		_ = rec.Key.Close()
	}
	if rec.Value != nil {
		_ = rec.Value.Close()
	}
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

// batchOverhead is the size of a v2 record batch's header, and
// recordOverheadMax a generous size of one record's framing (length,
// attributes, timestamp and offset deltas, key and value lengths, header
// count).
const (
	batchOverhead     = 61
	recordOverheadMax = 20
)

// recordSize estimates rec's bytes in its batch, before its key and value
// are read.
func recordSize(rec *protocol.Record) int {
	size := recordOverheadMax
	if rec.Key != nil {
		size += rec.Key.Len()
	}
	if rec.Value != nil {
		size += rec.Value.Len()
	}
	for _, h := range rec.Headers {
		size += len(h.Key) + len(h.Value)
	}
	return size
}

// batchStats describes the record batches of one fetch response.
type batchStats struct {
	batches  int
	smallest int // estimated bytes of the smallest batch
}

func (s *batchStats) add(size int) {
	if s.batches == 0 || size < s.smallest {
		s.smallest = size
	}
	s.batches++
}
