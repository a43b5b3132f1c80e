package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// conn is what the producer and consumer share: a kafka-go transport that
// multiplexes requests on one connection per broker, and a cache of topic
// partition counts.
//
// kafka-go's Transport answers metadata requests for a topic it knows from
// its cache, refreshed only every MetadataRefresh: asking it again after a
// leader moved changes nothing. So a leader change replaces the transport
// with a fresh one, whose first request reads the cluster's metadata anew
// (see refreshMetadata).
type conn struct {
	cfg  Config
	addr net.Addr

	// newTransport builds a transport; tests replace it to watch requests.
	newTransport func() (transport, error)

	tmu       sync.Mutex // guards transport and replaced
	transport transport
	replaced  time.Time

	mu     sync.Mutex
	topics map[string]*topicInfo
}

// transport is what conn needs of a *kafkago.Transport.
type transport interface {
	kafkago.RoundTripper
	CloseIdleConnections()
}

// topicInfo is what the producer needs to know of a topic.
type topicInfo struct {
	partitions []int // 0..n-1, as kafka-go's balancers take them
	fetched    time.Time
}

// topicInfoMaxAge bounds how long a partition count is taken from the
// producer's cache before asking the transport (whose own cache refreshes
// every MetadataRefresh) again.
const topicInfoMaxAge = time.Second

// metadataRefreshMinInterval is the least time between two replacements of
// the transport, so that many partitions reporting one leader change at
// once cost one metadata request, not one each.
const metadataRefreshMinInterval = time.Second

func newConn(cfg Config) (*conn, error) {
	c := &conn{
		cfg:    cfg,
		addr:   kafkago.TCP(cfg.Brokers...),
		topics: map[string]*topicInfo{},
	}
	c.newTransport = func() (transport, error) {
		t, err := newTransport(cfg, nil)
		if err != nil {
			return nil, err
		}
		return &hintTransport{t}, nil
	}
	t, err := c.newTransport()
	if err != nil {
		return nil, err
	}
	c.transport = t
	return c, nil
}

// client returns a kafka-go client over the current transport whose
// requests each end after timeout. For a produce request, kafka-go also
// tells the broker to wait at most half of the time left (the other half is
// for the network), rather than its 500ms default.
func (c *conn) client(timeout time.Duration) *kafkago.Client {
	c.tmu.Lock()
	t := c.transport
	c.tmu.Unlock()
	return &kafkago.Client{Addr: c.addr, Transport: t, Timeout: timeout}
}

// roundTrip sends msg through the current transport.
func (c *conn) roundTrip(ctx context.Context, msg protocol.Message) (protocol.Message, error) {
	c.tmu.Lock()
	t := c.transport
	c.tmu.Unlock()
	return t.RoundTrip(ctx, c.addr, msg)
}

// refreshMetadata makes the next requests route by fresh metadata, after a
// leader moved or a topic appeared: it replaces the transport with a new one
// (whose first request reads the cluster's metadata) and closes the old
// one's idle connections; requests in flight on the old one finish first.
// It does so at most once per metadataRefreshMinInterval, and reports
// whether it did. It never sends a metadata request, so it can create no
// topic.
func (c *conn) refreshMetadata() bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if time.Since(c.replaced) < metadataRefreshMinInterval {
		return false
	}
	t, err := c.newTransport()
	if err != nil { // only a bad SASL configuration, which newConn has seen
		return false
	}
	old := c.transport
	c.transport, c.replaced = t, time.Now()
	old.CloseIdleConnections()
	c.cfg.Logger.Debug("logpipe/kafka: metadata refreshed")
	return true
}

func newTransport(cfg Config, topics []string) (*kafkago.Transport, error) {
	mech, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, err
	}
	t := &kafkago.Transport{
		DialTimeout:    cfg.DialTimeout,
		MetadataTTL:    cfg.MetadataRefresh,
		MetadataTopics: topics,
		ClientID:       cfg.ClientID,
		SASL:           mech,
	}
	dial := (&net.Dialer{}).DialContext
	if cfg.TLS != nil {
		// The handshake is done by the dialer rather than by kafka-go, so
		// that its failure says what it is (see tlsDialer).
		dial = tlsDialer(cfg.TLS)
	}
	// Writes that fail, and connections the broker closed, say that the
	// request was not sent (see sent.go).
	t.Dial = checkedDial(dial)
	return t, nil
}

func saslMechanism(s *SASL) (sasl.Mechanism, error) {
	if s == nil {
		return nil, nil
	}
	switch s.Mechanism {
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256, SASLScramSHA512:
		algo := scram.SHA256
		if s.Mechanism == SASLScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			// Not wrapped: the scram library's error quotes the password.
			return nil, saslMechanismError(s)
		}
		return m, nil
	}
	return nil, fmt.Errorf("logpipe/kafka: SASL mechanism %q is not supported", s.Mechanism)
}

// partitions returns the partition ids of topic, 0..n-1, from a cache at
// most topicInfoMaxAge old. A topic that does not exist is a
// *MissingTopicError.
func (c *conn) partitions(ctx context.Context, topic string) ([]int, error) {
	c.mu.Lock()
	ti := c.topics[topic]
	c.mu.Unlock()
	if ti != nil && time.Since(ti.fetched) < topicInfoMaxAge {
		return ti.partitions, nil
	}
	n, err := c.partitionCount(ctx, topic)
	if err != nil {
		return nil, err
	}
	if ti != nil && len(ti.partitions) == n {
		ti = &topicInfo{partitions: ti.partitions, fetched: time.Now()}
	} else {
		ti = &topicInfo{partitions: make([]int, n), fetched: time.Now()}
		for i := range ti.partitions {
			ti.partitions[i] = i
		}
	}
	c.mu.Lock()
	c.topics[topic] = ti
	c.mu.Unlock()
	return ti.partitions, nil
}

// known reports whether topic's partitions have been found before.
func (c *conn) known(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.topics[topic] != nil
}

// partitionCount asks the transport's metadata cache for topic's partition
// count. The cache can be older than a topic that another client has just
// created, so a topic it does not know is looked up afresh before it is
// reported missing.
func (c *conn) partitionCount(ctx context.Context, topic string) (int, error) {
	n, err := metadataPartitions(ctx, c.client(c.cfg.RequestTimeout), topic)
	if err == nil || !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		return n, c.wrapMetadataErr(topic, err)
	}
	fresh, err := c.freshPartitionCount(ctx, topic)
	if err != nil {
		return 0, err
	}
	c.refreshMetadata()
	return fresh, nil
}

// freshPartitionCount reads topic's metadata through a transport of its own,
// so that no cache answers.
func (c *conn) freshPartitionCount(ctx context.Context, topic string) (int, error) {
	t, err := newTransport(c.cfg, []string{topic})
	if err != nil {
		return 0, err
	}
	defer t.CloseIdleConnections()
	cl := &kafkago.Client{Addr: c.addr, Transport: &hintTransport{t}, Timeout: c.cfg.RequestTimeout}
	n, err := metadataPartitions(ctx, cl, topic)
	return n, c.wrapMetadataErr(topic, err)
}

func (c *conn) wrapMetadataErr(topic string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kafkago.UnknownTopicOrPartition):
		return &MissingTopicError{Topic: topic, Brokers: c.cfg.Brokers}
	default:
		return fmt.Errorf("logpipe/kafka: read metadata of topic %q from %v: %w", topic, c.cfg.Brokers, err)
	}
}

func metadataPartitions(ctx context.Context, cl *kafkago.Client, topic string) (int, error) {
	resp, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return 0, t.Error
		}
		if len(t.Partitions) == 0 {
			return 0, kafkago.UnknownTopicOrPartition
		}
		return len(t.Partitions), nil
	}
	return 0, kafkago.UnknownTopicOrPartition
}

func (c *conn) close() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.transport.CloseIdleConnections()
}
