// Package memory is an in-process broker: topics with partitions, offsets,
// timestamps and headers, safe for concurrent use. It is the backend of the
// quickstart and of unit tests (the original's dummy backend): a *Broker is
// a backend.Backend, set as logpipe.Settings.Backend. Like Kafka, it never
// creates a topic on use (create them with CreateTopic), and consumers keep
// their positions in the database, in logpipe_kafkaoffset, as Kafka
// consumers do. It links no Kafka client.
package memory

import (
	"fmt"
	"sync"
	"time"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/murmur2"
)

// Broker holds topics in memory. The zero value is not usable; use
// NewBroker.
type Broker struct {
	mu         sync.Mutex
	topics     map[string]*topic
	now        func() time.Time
	autoCreate int // partitions of a topic created on first use; 0: none
}

// Option configures a Broker.
type Option func(*Broker)

// WithAutoCreateTopics makes the broker create a topic of the given number
// of partitions when it is first written or read, as a Kafka broker with
// auto.create.topics.enable does. By default a topic must be created with
// CreateTopic first, and using another is a *MissingTopicError.
func WithAutoCreateTopics(partitions int) Option {
	return func(b *Broker) { b.autoCreate = max(partitions, 0) }
}

type topic struct {
	partitions [][]backend.Record
	// changed is closed and replaced whenever a record is appended, to
	// wake waiting consumers.
	changed chan struct{}
}

// NewBroker returns an empty broker.
func NewBroker(opts ...Option) *Broker {
	b := &Broker{topics: map[string]*topic{}, now: time.Now}
	for _, o := range opts {
		o(b)
	}
	return b
}

// CreateTopic creates a topic with the given number of partitions, or adds
// partitions to an existing one (consumers pick them up). It never removes
// partitions.
func (b *Broker) CreateTopic(name string, partitions int) error {
	if name == "" || partitions < 1 {
		return fmt.Errorf("logpipe/memory: CreateTopic(%q, %d): need a name and at least one partition", name, partitions)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.createLocked(name)
	for len(t.partitions) < partitions {
		t.partitions = append(t.partitions, nil)
	}
	t.notifyLocked()
	return nil
}

// Records returns a copy of every record of a topic partition.
func (b *Broker) Records(name string, partition int32) []backend.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[name]
	if !ok || int(partition) >= len(t.partitions) {
		return nil
	}
	return append([]backend.Record(nil), t.partitions[partition]...)
}

// Partitions returns the number of partitions of a topic (0 when it does
// not exist).
func (b *Broker) Partitions(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.topics[name]; ok {
		return len(t.partitions)
	}
	return 0
}

// createLocked returns topic name, created without partitions if new.
func (b *Broker) createLocked(name string) *topic {
	t, ok := b.topics[name]
	if !ok {
		t = &topic{changed: make(chan struct{})}
		b.topics[name] = t
	}
	return t
}

// topicLocked returns topic name, created if the broker auto-creates.
func (b *Broker) topicLocked(name string) (*topic, error) {
	if t, ok := b.topics[name]; ok {
		return t, nil
	}
	if b.autoCreate == 0 {
		return nil, &MissingTopicError{Topic: name}
	}
	t := b.createLocked(name)
	t.partitions = make([][]backend.Record, b.autoCreate)
	return t, nil
}

// MissingTopicError is returned by Send, SendBatch and Fetch for a topic
// that was not created with CreateTopic. It matches backend.ErrMissingTopic.
type MissingTopicError struct {
	// Topic is the topic asked for.
	Topic string
}

// Error names the topic.
func (e *MissingTopicError) Error() string {
	return fmt.Sprintf("logpipe/memory: topic %q does not exist: create it with Broker.CreateTopic", e.Topic)
}

// Is reports whether target is backend.ErrMissingTopic.
func (e *MissingTopicError) Is(target error) bool { return target == backend.ErrMissingTopic }

func (t *topic) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// append writes m and returns its position. The partition of a keyed
// record is chosen as Kafka's Java client chooses it (murmur2), so that tests
// see the same spread as a real broker; keyless records round-robin.
func (b *Broker) append(m backend.Message) (backend.Position, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(m.Topic)
	if err != nil {
		return backend.Position{}, err
	}
	n := len(t.partitions)
	var p int
	if len(m.Key) > 0 {
		p = murmur2.Partition(m.Key, n)
	} else {
		total := 0
		for _, part := range t.partitions {
			total += len(part)
		}
		p = total % n
	}
	pos := backend.Position{Topic: m.Topic, Partition: int32(p), Offset: int64(len(t.partitions[p]))}
	t.partitions[p] = append(t.partitions[p], backend.Record{
		Position:  pos,
		Key:       append([]byte(nil), m.Key...),
		Value:     append([]byte(nil), m.Value...),
		Timestamp: b.now(),
		Headers:   cloneHeaders(m.Headers),
	})
	t.notifyLocked()
	return pos, nil
}

func cloneHeaders(hs []backend.Header) []backend.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]backend.Header, len(hs))
	for i, h := range hs {
		out[i] = backend.Header{Key: h.Key, Value: append([]byte(nil), h.Value...)}
	}
	return out
}

// read returns up to max records of topic name from the given next offsets
// (missing partitions start at 0), and a channel closed when the topic next
// changes.
func (b *Broker) read(name string, next map[int32]int64, max int) ([]backend.Record, <-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(name)
	if err != nil {
		return nil, nil, err
	}
	// Take from the partitions in turn, so that a backlog on one does not
	// hold back the others (as a Kafka fetch spreads over partitions).
	var out []backend.Record
	pos := make([]int64, len(t.partitions))
	for p := range t.partitions {
		pos[p] = next[int32(p)]
	}
	for more := true; more && len(out) < max; {
		more = false
		for p, part := range t.partitions {
			if pos[p] < int64(len(part)) && len(out) < max {
				out = append(out, part[pos[p]])
				pos[p]++
				more = true
			}
		}
	}
	return out, t.changed, nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("logpipe/memory: "+format, args...)
}

// Append writes m to its topic as a producer would, and returns where it
// went: for tests that need raw records, such as bad input for a consumer.
func (b *Broker) Append(m backend.Message) (backend.Position, error) { return b.append(m) }
