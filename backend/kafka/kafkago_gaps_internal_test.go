package kafka

// Tests of the behaviours for which this package does not use kafka-go's
// own facility (kafka.Writer, a Transport's metadata cache); doc.go names
// them.

import (
	"context"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// TestTopicCreatedAfterTheFirstLookupIsFound creates a topic after a
// connection has read the cluster's metadata: kafka-go's transport keeps
// answering from its cache that the topic does not exist (until
// MetadataRefresh, an hour here), while the connection finds it at once and
// can produce to it.
func TestTopicCreatedAfterTheFirstLookupIsFound(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Brokers: brokers, MetadataRefresh: time.Hour}.withDefaults()
	c, err := newConn(cfg)
	require.NoError(t, err)
	defer c.close()

	topic := testenv.Name("lp-kafka-late")
	_, err = c.partitions(ctx, topic)
	var missing *MissingTopicError
	require.ErrorAs(t, err, &missing, "the topic does not exist yet")

	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	admin := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr, Timeout: 30 * time.Second}
	res, err := admin.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
	t.Cleanup(func() {
		_, _ = admin.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})

	_, err = metadataPartitions(ctx, c.client(cfg.RequestTimeout), topic)
	assert.ErrorIs(t, err, kafkago.UnknownTopicOrPartition, "kafka-go's transport answers from its cache (else this test proves nothing)")

	parts, err := c.partitions(ctx, topic)
	require.NoError(t, err)
	assert.Len(t, parts, 3)
	// The transport was replaced, so the topic's leaders are known too. A
	// topic just created may have no leader for a moment.
	require.Eventually(t, func() bool {
		r, err := c.client(cfg.RequestTimeout).Produce(ctx, &kafkago.ProduceRequest{
			Topic: topic, Partition: 2, RequiredAcks: kafkago.RequireAll,
			Records: kafkago.NewRecordReader(kafkago.Record{Value: kafkago.NewBytes([]byte("json:{}"))}),
		})
		if err == nil {
			err = r.Error
		}
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "produce to the new topic through the connection")
}

// TestConcurrentSendsShareRequests checks the producer's batching: a lone
// Send goes out at once in a request of its own (kafka.Writer would wait for
// BatchSize records or BatchTimeout, 1s by default), and Sends made while a
// request to the partition is in flight share the next one (a kafka.Writer
// with a BatchTimeout short enough not to delay a lone record sends each of
// them in a request of its own), each still getting its own position.
func TestConcurrentSendsShareRequests(t *testing.T) {
	t.Parallel()
	topic, _ := testTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := NewProducer(Config{Brokers: testenv.KafkaBrokers(t)})
	require.NoError(t, err)
	defer p.Close()
	rt := &recordingTransport{}
	p.conn.newTransport = func() (transport, error) {
		tr, err := newTransport(p.conn.cfg, nil)
		rt.Transport = tr
		return rt, err
	}
	old := p.conn.transport
	p.conn.transport, _ = p.conn.newTransport()
	old.CloseIdleConnections()
	produces := func() int {
		n := 0
		for _, r := range rt.seen() {
			if r.key == protocol.Produce {
				n++
			}
		}
		return n
	}
	send := func(i int) (backend.Position, error) {
		return p.Send(ctx, backend.Message{Topic: topic, Key: []byte("k"), Value: []byte(`json:{"i":` + strconv.Itoa(i) + `}`)})
	}

	// A topic just created may have no leader for a moment: the producer
	// retries, so count from a Send that went through.
	_, err = send(0)
	require.NoError(t, err)
	before := produces()
	pos, err := send(1)
	require.NoError(t, err)
	assert.EqualValues(t, 1, pos.Offset)
	assert.Equal(t, 1, produces()-before, "a lone Send is one request")

	const n = 64
	before = produces()
	start := make(chan struct{})
	var wg sync.WaitGroup
	offsets := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var pos backend.Position
			pos, errs[i] = send(i)
			offsets[i] = pos.Offset
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	for i, o := range offsets {
		assert.EqualValues(t, 2+i, o, "each Send has its own offset")
	}
	assert.Less(t, produces()-before, n, "concurrent Sends share requests")
	t.Logf("%d concurrent Sends took %d produce requests", n, produces()-before)
}

// gateTransport holds produce requests, while hold is set, until gate is
// closed, and signals each one it holds on entered.
type gateTransport struct {
	*kafkago.Transport
	hold    atomic.Bool
	gate    chan struct{}
	entered chan struct{}
}

func (g *gateTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafkago.Request) (kafkago.Response, error) {
	if req.ApiKey() == protocol.Produce && g.hold.Load() {
		g.entered <- struct{}{}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Transport.RoundTrip(ctx, addr, req)
}

// TestAbandonedSendIsNotWritten checks that a Send whose context ends while
// its record waits behind a request in flight is not written (a
// kafka.Writer's WriteMessages returns ctx.Err() then, but the message stays
// in its batch and is written), and says so.
func TestAbandonedSendIsNotWritten(t *testing.T) {
	t.Parallel()
	topic, _ := testTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, gt := gatedProducer(t)
	send := func(ctx context.Context, v string) (backend.Position, error) {
		return p.Send(ctx, backend.Message{Topic: topic, Key: []byte("k"), Value: []byte(v)})
	}

	_, err := send(ctx, "json:0") // waits out the new topic's leader election
	require.NoError(t, err)

	gt.hold.Store(true)
	type result struct {
		pos backend.Position
		err error
	}
	first := make(chan result, 1)
	go func() {
		pos, err := send(ctx, "json:1")
		first <- result{pos, err}
	}()
	select {
	case <-gt.entered:
	case <-ctx.Done():
		t.Fatal("the first Send's request never started")
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	_, err = send(short, "json:2")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, backend.ErrNotWritten)
	assert.NotErrorIs(t, err, backend.ErrMaybeWritten)
	assert.Contains(t, err.Error(), "not sent")

	gt.hold.Store(false)
	close(gt.gate)
	r := <-first
	require.NoError(t, r.err)
	assert.EqualValues(t, 1, r.pos.Offset)
	pos, err := send(ctx, "json:3")
	require.NoError(t, err)
	assert.EqualValues(t, 2, pos.Offset, "the abandoned record took no offset")
}

// gatedProducer returns a producer of the test broker whose requests pass
// through a gateTransport, which holds them until the test opens its gate.
func gatedProducer(t *testing.T) (*Producer, *gateTransport) {
	t.Helper()
	p, err := NewProducer(Config{Brokers: testenv.KafkaBrokers(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	gt := &gateTransport{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	p.conn.newTransport = func() (transport, error) {
		tr, err := newTransport(p.conn.cfg, nil)
		gt.Transport = tr
		return gt, err
	}
	old := p.conn.transport
	p.conn.transport, _ = p.conn.newTransport()
	old.CloseIdleConnections()
	return p, gt
}
