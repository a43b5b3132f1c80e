package kafka

import (
	"sync/atomic"

	kafkago "github.com/segmentio/kafka-go"
)

// murmur2 is kafka-go's port of the Java client's partitioner for keyed
// records: murmur2(key) & 0x7fffffff, modulo the partition count.
// Consistent makes a nil key hash too instead of picking at random; this
// package never passes one (keyless records are spread by keylessPartition).
var murmur2 = kafkago.Murmur2Balancer{Consistent: true}

// PartitionForKey returns the partition, of n, that Kafka's Java client
// (BuiltInPartitioner.partitionForKey) and kafka-python choose for a
// non-empty key. It returns -1 when n < 1.
func PartitionForKey(key []byte, n int) int32 {
	if n < 1 {
		return -1
	}
	partitions := make([]int, n)
	for i := range partitions {
		partitions[i] = i
	}
	return int32(murmur2.Balance(kafkago.Message{Key: key}, partitions...))
}

// partitionFor picks the partition of one record among partitions (0..n-1):
// murmur2 for a keyed record, round robin for a keyless one.
func partitionFor(key []byte, partitions []int, rr *atomic.Uint32) int {
	if len(key) == 0 {
		return int(rr.Add(1) % uint32(len(partitions)))
	}
	return murmur2.Balance(kafkago.Message{Key: key}, partitions...)
}
