package kafka

import (
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
// murmur2 for a keyed record, kafka-go's round robin for a keyless one
// (kafka-python picks one at random, Java's client sticks to one per batch;
// none is promised to a keyless record).
func partitionFor(key []byte, partitions []int, rr *kafkago.RoundRobin) int {
	if len(key) == 0 {
		return rr.Balance(kafkago.Message{}, partitions...)
	}
	return murmur2.Balance(kafkago.Message{Key: key}, partitions...)
}
