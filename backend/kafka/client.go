package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// conn is what the producer and consumer share: a kafka-go client over a
// transport that multiplexes requests on one connection per broker, and a
// cache of topic partition counts.
type conn struct {
	cfg       Config
	transport *kafkago.Transport
	client    *kafkago.Client

	mu     sync.Mutex
	topics map[string]*topicInfo
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

func newConn(cfg Config) (*conn, error) {
	t, err := newTransport(cfg, nil)
	if err != nil {
		return nil, err
	}
	return &conn{
		cfg:       cfg,
		transport: t,
		client:    &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: t},
		topics:    map[string]*topicInfo{},
	}, nil
}

func newTransport(cfg Config, topics []string) (*kafkago.Transport, error) {
	mech, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, err
	}
	return &kafkago.Transport{
		DialTimeout:    cfg.DialTimeout,
		MetadataTTL:    cfg.MetadataRefresh,
		MetadataTopics: topics,
		ClientID:       cfg.ClientID,
		TLS:            cfg.TLS,
		SASL:           mech,
	}, nil
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
			return nil, fmt.Errorf("logpipe/kafka: SASL %s: %w", s.Mechanism, err)
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

// partitionCount asks the transport's metadata cache for topic's partition
// count. The cache can be older than a topic that another client has just
// created, so a topic it does not know is looked up afresh before it is
// reported missing.
func (c *conn) partitionCount(ctx context.Context, topic string) (int, error) {
	n, err := metadataPartitions(ctx, c.client, topic)
	if err == nil || !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		return n, c.wrapMetadataErr(topic, err)
	}
	fresh, err := c.freshPartitionCount(ctx, topic)
	if err != nil {
		return 0, err
	}
	c.refreshTopic(ctx, topic)
	return fresh, nil
}

// refreshTopic makes the shared transport re-read the metadata of topic,
// which must exist (a leader moved, or another client created it). A
// metadata request that allows auto-creation is the only one kafka-go sends
// past its cache; it creates nothing for a topic that exists.
func (c *conn) refreshTopic(ctx context.Context, topic string) {
	_, _ = c.transport.RoundTrip(ctx, c.client.Addr, &metadataAPI.Request{TopicNames: []string{topic}, AllowAutoTopicCreation: true})
}

// freshPartitionCount reads topic's metadata through a transport of its own,
// so that no cache answers.
func (c *conn) freshPartitionCount(ctx context.Context, topic string) (int, error) {
	t, err := newTransport(c.cfg, []string{topic})
	if err != nil {
		return 0, err
	}
	defer t.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(c.cfg.Brokers...), Transport: t}
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
	c.transport.CloseIdleConnections()
}
