package kafka

import (
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
)

// Keyless records take the partitions in turn; keyed ones follow murmur2.
func TestPartitionForKeyless(t *testing.T) {
	t.Parallel()
	var rr kafkago.RoundRobin
	parts := []int{0, 1, 2}
	counts := map[int]int{}
	for range 9 {
		counts[partitionFor(nil, parts, &rr)]++
	}
	assert.Equal(t, map[int]int{0: 3, 1: 3, 2: 3}, counts)
	assert.Equal(t, int(PartitionForKey([]byte("k"), 3)), partitionFor([]byte("k"), parts, &rr))
}
