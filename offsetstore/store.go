package offsetstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/logpipe-go/logpipe/backend"
)

var (
	_ backend.OffsetStore = (*Kafka)(nil)
	_ backend.OffsetStore = (*Kinesis)(nil)
)

// ErrOffsetMoved is returned by Commit when the stored position is no longer
// the one this store loaded or last committed: another consumer is reading
// the same partition or shard with the same table. The commit fails, so the
// transaction that applied the record rolls back and nothing is applied
// twice; the consumer stops.
var ErrOffsetMoved = errors.New("logpipe/offsetstore: the stored position moved: another consumer is reading this partition with the same offsets table")

// fence remembers, per partition or shard, the position a store expects to
// find in the table: what it loaded, then what it committed. Commits are
// conditional on it, which fences off a second consumer of the same topic
// (two replicas during a rolling deploy, say).
type fence[K comparable, V any] struct {
	mu     sync.Mutex
	want   map[K]V
	loaded map[string]bool // topics or streams whose rows were loaded
}

// expect returns the expected position of k: ok is false when nothing is
// known (commit unconditionally), absent when the topic was loaded and k
// had no row (insert; a concurrent insert fails on the unique key).
func (f *fence[K, V]) expect(topic string, k K) (v V, ok, absent bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok = f.want[k]; ok {
		return v, true, false
	}
	return v, f.loaded[topic], f.loaded[topic]
}

// learn records loaded rows; positions already known (committed by this
// store) are kept.
func (f *fence[K, V]) learn(topic string, rows map[K]V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.want == nil {
		f.want, f.loaded = map[K]V{}, map[string]bool{}
	}
	for k, v := range rows {
		if _, ok := f.want[k]; !ok {
			f.want[k] = v
		}
	}
	f.loaded[topic] = true
}

func (f *fence[K, V]) set(k K, v V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.want == nil {
		f.want, f.loaded = map[K]V{}, map[string]bool{}
	}
	f.want[k] = v
}

type partitionKey struct {
	topic     string
	partition int32
}

// Kafka reads and writes logpipe_kafkaoffset, for the unnamed consumer, and
// logpipe_consumer_offset, for named ones. Set DB; use one Kafka per
// consumer (it remembers what it loaded and committed) through a pointer.
// For group assignment it also claims partitions (Claim) and fences commits
// in logpipe_partition_owner.
type Kafka struct {
	// DB is the application's database.
	DB *gorm.DB

	fence fence[partitionKey, int64]
}

// Load returns the last applied offset of each partition of topic that has a
// stored position (the table holds the next offset to read, one more): from
// logpipe_kafkaoffset for the unnamed consumer (""), from
// logpipe_consumer_offset for a named one.
func (s *Kafka) Load(ctx context.Context, consumer, topic string) ([]backend.Position, error) {
	stored, err := s.kafkaLoad(ctx, s.DB, consumer, topic)
	if err != nil {
		return nil, err
	}
	out := make([]backend.Position, 0, len(stored))
	known := make(map[partitionKey]int64, len(stored))
	for p, next := range stored {
		out = append(out, backend.Position{Topic: topic, Partition: p, Offset: next - 1})
		known[partitionKey{topic, p}] = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	s.fence.learn(topic, known)
	return out, nil
}

// Commit stores c's offset plus one as the next offset to read from its
// partition, in the table of c.Consumer (see Load). It writes through tx
// when tx is not nil, so that the position commits with the application's
// own writes, else through s.DB.
//
// With a fencing token (c.Fence, from Claim), it first checks that the
// token is still the partition's current generation, failing with a
// *FencedError (ErrFenced) otherwise, and then writes the position whatever
// it held. Without one, when the store has loaded the topic, the write is
// conditional on the row still holding what it loaded or last committed:
// otherwise it fails with ErrOffsetMoved.
func (s *Kafka) Commit(ctx context.Context, tx *gorm.DB, c backend.Checkpoint) error {
	db := tx
	if db == nil {
		db = s.DB
	}
	db = db.WithContext(ctx)
	topic, partition, next := c.Topic, c.Partition, c.Offset+1
	key := partitionKey{topic, partition}
	prev, fenced, absent := s.fence.expect(topic, key)
	if c.Fence != 0 {
		if err := checkOwner(db, c); err != nil {
			return err
		}
		fenced = false // the owner's generation fences instead
	}
	row, keyCols, keyVals := kafkaRow(c, next)
	err := commitRow(db, row, keyCols, keyVals, "offset", prev, next, fenced, absent)
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: commit offset %d of %s/%d: %w", next, topic, partition, err)
	}
	s.fence.set(key, next)
	return nil
}

// kinesisSupported refuses what Kinesis positions cannot carry yet: a
// fencing token.
func kinesisSupported(c backend.Checkpoint) error {
	if c.Fence != 0 {
		return fmt.Errorf("logpipe/offsetstore: fencing token %d of %s/%s: %w by offsetstore.Kinesis", c.Fence, c.Topic, c.Shard, backend.ErrUnsupported)
	}
	return nil
}

type shardKey struct {
	stream, shard string
}

// Kinesis reads and writes logpipe_kinesisoffset (the unnamed consumer)
// and logpipe_consumer_offset (named ones) for one AWS region. Set DB and
// Region; use one Kinesis per consumer, through a pointer.
type Kinesis struct {
	// DB is the application's database.
	DB *gorm.DB
	// Region is the AWS region of the streams, part of the table's key.
	Region string

	fence fence[shardKey, string]
}

// Load returns the last applied sequence number of each shard of stream that
// has a stored position: from logpipe_kinesisoffset for the unnamed consumer
// (""), from logpipe_consumer_offset for a named one.
func (s *Kinesis) Load(ctx context.Context, consumer, stream string) ([]backend.Position, error) {
	var out []backend.Position
	if consumer == "" {
		var rows []KinesisOffset
		err := s.DB.WithContext(ctx).Where("region = ? AND stream = ?", s.Region, stream).Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("logpipe/offsetstore: load positions of stream %q: %w", stream, err)
		}
		for _, r := range rows {
			out = append(out, backend.Position{Topic: stream, Shard: r.Shard, SequenceNumber: r.SequenceNumber})
		}
	} else {
		rows, err := loadNamed(ctx, s.DB, consumer, s.Region, stream)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, backend.Position{Topic: stream, Shard: r.Shard, SequenceNumber: r.SequenceNumber})
		}
	}
	known := make(map[shardKey]string, len(out))
	for _, p := range out {
		known[shardKey{stream, p.Shard}] = p.SequenceNumber
	}
	s.fence.learn(stream, known)
	if out == nil {
		out = []backend.Position{}
	}
	return out, nil
}

// Commit stores c's sequence number as the last applied of its shard, in
// the table of c.Consumer (see Load), through tx when tx is not nil, else
// through s.DB. A fencing token is refused (backend.ErrUnsupported). Like Kafka.Commit, it is
// conditional once the stream is loaded, failing with ErrOffsetMoved.
// Under a shard lease (c.Fence, the lease epoch, not 0) it is fenced by the
// lease instead: see CheckKinesisLease.
func (s *Kinesis) Commit(ctx context.Context, tx *gorm.DB, c backend.Checkpoint) error {
	if c.Fence != 0 {
		return s.commitLeased(ctx, tx, c)
	}
	if err := kinesisSupported(c); err != nil {
		return err
	}
	db := tx
	if db == nil {
		db = s.DB
	}
	db = db.WithContext(ctx)
	stream, shard, seq := c.Topic, c.Shard, c.SequenceNumber
	key := shardKey{stream, shard}
	prev, fenced, absent := s.fence.expect(stream, key)
	row, keyCols, keyVals := kinesisRow(c, s.Region)
	err := commitRow(db, row, keyCols, keyVals, "sequence_number", prev, seq, fenced, absent)
	if err != nil {
		return fmt.Errorf("logpipe/offsetstore: commit position %s of %s/%s: %w", seq, stream, shard, err)
	}
	s.fence.set(key, seq)
	return nil
}

// tabler is a model that names its table.
type tabler interface{ TableName() string }

// commitRow writes one position row, identified by the unique key columns
// keyCols (in the unique index's order) holding keyVals, with
// col set to next: as an upsert when the store knows nothing of it (!fenced),
// as an insert when the store loaded its topic and found no row (absent; a
// concurrent insert fails on the unique key), else as an update conditional
// on col still holding prev. A lost race is ErrOffsetMoved.
func commitRow(db *gorm.DB, row any, keyCols []string, keyVals []any, col string, prev, next any, fenced, absent bool) error {
	switch {
	case !fenced:
		cols := make([]clause.Column, len(keyCols))
		for i, name := range keyCols {
			cols[i] = clause.Column{Name: name}
		}
		return db.Clauses(clause.OnConflict{Columns: cols, DoUpdates: clause.AssignmentColumns([]string{col})}).Create(row).Error
	case absent:
		if err := db.Create(row).Error; err != nil {
			return fmt.Errorf("%w (inserting the first row failed: %w)", ErrOffsetMoved, err)
		}
		return nil
	}
	// One UPDATE with a fixed text, so that a prepared-statement cache
	// (GORM's PrepareStmt) reuses it: this runs once per transaction.
	q := db.Statement.Quote
	var sql strings.Builder
	sql.WriteString("UPDATE " + q(row.(tabler).TableName()) + " SET " + q(col) + " = ? WHERE " + q(col) + " = ?")
	args := append(make([]any, 0, 2+len(keyVals)), next, prev)
	for i, name := range keyCols {
		sql.WriteString(" AND " + q(name) + " = ?")
		args = append(args, keyVals[i])
	}
	res := db.Exec(sql.String(), args...)
	if res.Error == nil && res.RowsAffected == 0 {
		return fmt.Errorf("%w (expected %v)", ErrOffsetMoved, prev)
	}
	return res.Error
}
