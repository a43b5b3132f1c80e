// Package memory is an in-process broker: topics with partitions, offsets
// and timestamps, safe for concurrent use. It is the backend of the
// quickstart and of unit tests (the original's dummy backend). Consumers keep
// their positions in the database, in logpipe_kafkaoffset, as Kafka
// consumers do.
package memory

import (
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/logpipe-go/logpipe/backend"
)

// DefaultPartitions is the number of partitions of a topic created on first
// use.
const DefaultPartitions = 1

// Broker holds topics in memory. The zero value is not usable; use
// NewBroker.
type Broker struct {
	mu     sync.Mutex
	topics map[string]*topic
	now    func() time.Time
}

type topic struct {
	partitions [][]backend.Record
	// changed is closed and replaced whenever a record is appended, to
	// wake waiting consumers.
	changed chan struct{}
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{topics: map[string]*topic{}, now: time.Now}
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
	t := b.topicLocked(name, partitions)
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

func (b *Broker) topicLocked(name string, partitions int) *topic {
	t, ok := b.topics[name]
	if !ok {
		t = &topic{partitions: make([][]backend.Record, partitions), changed: make(chan struct{})}
		b.topics[name] = t
	}
	return t
}

func (t *topic) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// append writes m and returns its position. The partition of a keyed
// record is chosen as Kafka's Java client chooses it (murmur2), so that tests
// see the same spread as a real broker; keyless records round-robin.
func (b *Broker) append(m backend.Message) backend.Position {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topicLocked(m.Topic, DefaultPartitions)
	n := len(t.partitions)
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	var p int
	if len(m.Key) > 0 {
		p = kafkago.Murmur2Balancer{Consistent: true}.Balance(kafkago.Message{Key: m.Key}, ids...)
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
	})
	t.notifyLocked()
	return pos
}

// read returns up to max records of topic name from the given next offsets
// (missing partitions start at 0), and a channel closed when the topic next
// changes.
func (b *Broker) read(name string, next map[int32]int64, max int) ([]backend.Record, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topicLocked(name, DefaultPartitions)
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
	return out, t.changed
}
