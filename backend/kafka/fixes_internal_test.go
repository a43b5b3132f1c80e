package kafka

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// testTopic creates a topic with n partitions on the test broker, deleted
// when the test ends, and returns its name and an admin client.
func testTopic(t *testing.T, n int) (string, *kafkago.Client) {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	tr := &kafkago.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	admin := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr, Timeout: 30 * time.Second}
	topic := testenv.Name("lp-kafka-fix")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := admin.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: n, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
	t.Cleanup(func() {
		_, _ = admin.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})
	return topic, admin
}

// TestRefreshMetadataReplacesTheTransport checks that refreshMetadata makes
// the next requests see changed metadata of a topic the transport already
// has in its cache (kafka-go answers such metadata requests from the cache
// until MetadataRefresh), and that it is rate-limited.
func TestRefreshMetadataReplacesTheTransport(t *testing.T) {
	t.Parallel()
	topic, admin := testTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Brokers: testenv.KafkaBrokers(t), MetadataRefresh: time.Hour}.withDefaults()
	c, err := newConn(cfg)
	require.NoError(t, err)
	defer c.close()

	parts, err := c.partitions(ctx, topic)
	require.NoError(t, err)
	require.Len(t, parts, 1)

	res, err := admin.CreatePartitions(ctx, &kafkago.CreatePartitionsRequest{Topics: []kafkago.TopicPartitionsConfig{{Name: topic, Count: 3}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
	time.Sleep(500 * time.Millisecond) // let the broker's metadata cache see the new partitions

	forget := func() {
		c.mu.Lock()
		delete(c.topics, topic)
		c.mu.Unlock()
	}
	forget()
	parts, err = c.partitions(ctx, topic)
	require.NoError(t, err)
	assert.Len(t, parts, 1, "the transport answers from its cache (else this test proves nothing)")

	old := c.transport
	require.True(t, c.refreshMetadata())
	assert.NotSame(t, old, c.transport)
	assert.False(t, c.refreshMetadata(), "at most one refresh per interval")
	forget()
	parts, err = c.partitions(ctx, topic)
	require.NoError(t, err)
	assert.Len(t, parts, 3, "the refresh reads the new partitions")
}

// recorded is one request seen by recordingTransport.
type recorded struct {
	key         protocol.ApiKey
	hasDeadline bool
	left        time.Duration
	produceMs   int32 // the broker-side timeout of a produce request
	isolation   int8  // of a fetch request
}

// recordingTransport passes requests to a real transport and records them.
type recordingTransport struct {
	*kafkago.Transport
	mu   sync.Mutex
	reqs []recorded
}

func (r *recordingTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafkago.Request) (kafkago.Response, error) {
	rec := recorded{key: req.ApiKey()}
	if d, ok := ctx.Deadline(); ok {
		rec.hasDeadline, rec.left = true, time.Until(d)
	}
	switch m := req.(type) {
	case *produceAPI.Request:
		rec.produceMs = m.Timeout
	case *fetchAPI.Request:
		rec.isolation = m.IsolationLevel
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return r.Transport.RoundTrip(ctx, addr, req)
}

func (r *recordingTransport) seen() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// TestRequestsHaveDeadlines checks that the broker is told to wait for the
// replicas for half of SendTimeout (not kafka-go's 500ms default), and that
// fetch, list-offsets and group-offset requests each have a deadline, so
// that a connection that stopped answering cannot stall a reader.
func TestRequestsHaveDeadlines(t *testing.T) {
	t.Parallel()
	topic, _ := testTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{
		Brokers: testenv.KafkaBrokers(t), SendTimeout: 8 * time.Second, RequestTimeout: 3 * time.Second,
		PollInterval: 200 * time.Millisecond, GroupID: testenv.Name("lp-group"),
	}
	rt := &recordingTransport{}
	watch := func(c *conn) {
		c.newTransport = func() (transport, error) {
			tr, err := newTransport(c.cfg, nil)
			rt.Transport = tr
			return rt, err
		}
		old := c.transport
		c.transport, _ = c.newTransport()
		old.CloseIdleConnections()
	}

	p, err := NewProducer(cfg)
	require.NoError(t, err)
	defer p.Close()
	watch(p.conn)
	_, err = p.Send(ctx, backend.Message{Topic: topic, Key: []byte("k"), Value: []byte("json:{}")})
	require.NoError(t, err)

	c, err := NewConsumer(cfg, ConsumerOptions{Topic: topic, BrokerOffsets: true})
	require.NoError(t, err)
	defer c.Close()
	watch(c.conn)
	var got []backend.Record
	for len(got) == 0 {
		got, err = c.Fetch(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, c.Commit(ctx, nil, got[0]))

	kinds := map[protocol.ApiKey]bool{}
	for _, r := range rt.seen() {
		kinds[r.key] = true
		switch r.key {
		case protocol.Produce:
			assert.Greater(t, r.produceMs, int32(3000), "the broker waits for half of SendTimeout")
			assert.LessOrEqual(t, r.produceMs, int32(4000))
		case protocol.Fetch, protocol.ListOffsets, protocol.OffsetFetch, protocol.OffsetCommit:
			assert.True(t, r.hasDeadline, "%v has a deadline", r.key)
			assert.LessOrEqual(t, r.left, cfg.PollInterval+cfg.RequestTimeout, "%v", r.key)
		}
		if r.key == protocol.Fetch {
			assert.EqualValues(t, kafkago.ReadCommitted, r.isolation)
		}
	}
	for _, k := range []protocol.ApiKey{protocol.Produce, protocol.Fetch, protocol.ListOffsets, protocol.OffsetFetch, protocol.OffsetCommit} {
		assert.True(t, kinds[k], "saw a %v request", k)
	}
}

// TestReadCommittedSkipsAbortedAndMarkers writes a committed, an aborted
// and a committed transaction with Kafka's Java producer, and checks that
// the consumer returns the committed records only and reads past the last
// transaction marker (rather than fetching it again and again).
func TestReadCommittedSkipsAbortedAndMarkers(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	classpath := testenv.Service(t, testenv.EnvKafkaLib, "the Kafka jars (Java producer)")
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run Kafka's Java producer: %v", tool, err)
		}
	}
	topic, _ := testTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "JavaTransactions.java"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "JavaTransactions.java"), src, 0o644))
	out, err := exec.CommandContext(ctx, "javac", "-cp", classpath, "-d", dir, filepath.Join(dir, "JavaTransactions.java")).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)
	out, err = exec.CommandContext(ctx, "java", "-cp", dir+string(os.PathListSeparator)+classpath, "JavaTransactions", brokers[0], topic).CombinedOutput()
	require.NoError(t, err, "java: %s", out)

	c, err := NewConsumer(Config{Brokers: brokers, PollInterval: 200 * time.Millisecond},
		ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	require.NoError(t, err)
	defer c.Close()
	var values []string
	var offsets []int64
	for range 10 {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err)
		for _, r := range recs {
			values = append(values, string(r.Value))
			offsets = append(offsets, r.Offset)
		}
	}
	assert.Equal(t, []string{"c1", "c2", "c3"}, values)
	// c1 c2 COMMIT a1 a2 ABORT c3 COMMIT
	assert.Equal(t, []int64{0, 1, 6}, offsets)
	c.mu.Lock()
	r := c.readers[0]
	c.mu.Unlock()
	require.NotNil(t, r)
	// Ten polls later the reader waits at its next offset, past the last
	// marker. Close stops its goroutine, which owns r.offset.
	require.NoError(t, c.Close())
	assert.EqualValues(t, 8, r.offset)

	// kafka-go's own Reader, asked for read_committed, hands over the
	// aborted transaction's records (segmentio/kafka-go#1332): it sends the
	// isolation level but drops the response's aborted transactions. This
	// is why this package decodes fetch responses itself; if this part
	// fails, kafka-go has learned to filter them (see doc.go).
	rd := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: 0,
		IsolationLevel: kafkago.ReadCommitted, MaxWait: 200 * time.Millisecond,
	})
	defer rd.Close()
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	var theirs []string
	for {
		m, err := rd.ReadMessage(rctx)
		if err != nil {
			break
		}
		theirs = append(theirs, string(m.Value))
		if m.Offset >= 6 {
			break
		}
	}
	t.Logf("kafka-go's Reader with ReadCommitted returned %q", theirs)
	assert.Contains(t, theirs, "a1", "kafka-go's Reader returns records of an aborted transaction")
}

// readCommitted collects what scanCommitted emits.
func readCommitted(p *fetchAPI.ResponsePartition, from int64) ([]rawRecord, int64, batchStats, error) {
	var recs []rawRecord
	next, stats, err := scanCommitted(p, from, func(r rawRecord) error {
		recs = append(recs, r)
		return nil
	})
	return recs, next, stats, err
}

// TestReadCommittedUnit covers the decoding cases one by one, including
// an empty batch (left by compaction) at the fetch offset.
func TestReadCommittedUnit(t *testing.T) {
	t.Parallel()
	data := func(base, producer int64, txn bool, offsets ...int64) *protocol.RecordBatch {
		recs := make([]protocol.Record, len(offsets))
		for i, o := range offsets {
			recs[i] = protocol.Record{Offset: o, Value: protocol.NewBytes([]byte{byte('a' + o)})}
		}
		b := &protocol.RecordBatch{BaseOffset: base, ProducerID: producer, Records: protocol.NewRecordReader(recs...)}
		if txn {
			b.Attributes = protocol.Transactional
		}
		return b
	}
	marker := func(offset, producer int64, typ int16) *protocol.ControlBatch {
		b := protocol.NewControlBatch(protocol.ControlRecord{Offset: offset, Type: typ})
		b.BaseOffset, b.ProducerID, b.Attributes = offset, producer, protocol.Control|protocol.Transactional
		return b
	}
	part := func(aborted []fetchAPI.ResponseTransaction, batches ...protocol.RecordReader) *fetchAPI.ResponsePartition {
		return &fetchAPI.ResponsePartition{AbortedTransactions: aborted, RecordSet: protocol.RecordSet{Records: &protocol.RecordStream{Records: batches}}}
	}
	offsetsOf := func(recs []rawRecord) []int64 {
		var out []int64
		for _, r := range recs {
			out = append(out, r.offset)
		}
		return out
	}

	// c1 c2 COMMIT a1 a2 ABORT c3 COMMIT, with another producer's plain
	// record in the aborted transaction's range.
	txns := func() *fetchAPI.ResponsePartition { // readers are read once: build anew each time
		return part([]fetchAPI.ResponseTransaction{{ProducerID: 7, FirstOffset: 3}},
			data(0, 7, true, 0, 1), marker(2, 7, 1), data(3, 7, true, 3), data(4, 9, false, 4), data(5, 7, true, 5),
			marker(6, 7, controlAbort), data(7, 7, true, 7), marker(8, 7, 1))
	}
	recs, next, _, err := readCommitted(txns(), 0)
	require.NoError(t, err)
	assert.Equal(t, []int64{0, 1, 4, 7}, offsetsOf(recs))
	assert.EqualValues(t, 9, next, "past the last marker")

	recs, next, _, err = readCommitted(txns(), 1)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 4, 7}, offsetsOf(recs), "records before the fetch offset are left out")
	assert.EqualValues(t, 9, next)

	recs, next, _, err = readCommitted(part(nil, marker(8, 7, 1)), 8)
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.EqualValues(t, 9, next, "a response of a marker only moves past it")

	recs, next, _, err = readCommitted(part(nil, data(5, 1, false)), 6)
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.EqualValues(t, 7, next, "an empty batch at the fetch offset cannot hold the reader in place")

	recs, next, _, err = readCommitted(part(nil, data(5, 1, false), data(10, 1, false, 10)), 6)
	require.NoError(t, err)
	assert.Equal(t, []int64{10}, offsetsOf(recs))
	assert.EqualValues(t, 11, next)

	// A fetch that starts at an abort marker: the broker lists the aborted
	// transaction (begun before the fetch offset), and the producer's next
	// transaction, committed, must not be taken for it.
	recs, next, _, err = readCommitted(part([]fetchAPI.ResponseTransaction{{ProducerID: 7, FirstOffset: 3}},
		marker(5, 7, controlAbort), data(6, 7, true, 6), marker(7, 7, 1)), 5)
	require.NoError(t, err)
	assert.Equal(t, []int64{6}, offsetsOf(recs), "the abort marker ends the aborted transaction")
	assert.EqualValues(t, 8, next)

	// Batch sizes, for sizing the next fetch: the smallest is reported.
	_, _, stats, err := readCommitted(part(nil, data(0, 1, false, 0, 1, 2), data(3, 1, false, 3)), 0)
	require.NoError(t, err)
	assert.Equal(t, 2, stats.batches)
	assert.Equal(t, batchOverhead+recordOverheadMax+1, stats.smallest, "one record of a one-byte value")

	recs, next, _, err = readCommitted(&fetchAPI.ResponsePartition{}, 3)
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.EqualValues(t, 3, next, "nothing fetched, nothing skipped")
}
