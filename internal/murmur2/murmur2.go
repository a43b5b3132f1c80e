// Package murmur2 is the partitioner of Kafka's Java client: murmur2 of the
// key, made positive, modulo the partition count. The in-memory backend uses
// it so that tests see the partitions a real broker's producers choose,
// without linking a Kafka client (the Kafka backend uses kafka-go's own
// Murmur2Balancer, and a test checks that both agree).
package murmur2

import "encoding/binary"

// Hash returns Kafka's murmur2 hash of key (org.apache.kafka.common.utils.Utils.murmur2).
func Hash(key []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(key)
	h := seed ^ uint32(n)
	for len(key) >= 4 {
		k := binary.LittleEndian.Uint32(key)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		key = key[4:]
	}
	switch len(key) {
	case 3:
		h ^= uint32(key[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Partition returns the partition, of n, that Kafka's Java client chooses
// for a record with key (n > 0, key not empty).
func Partition(key []byte, n int) int {
	return int((Hash(key) & 0x7fffffff) % uint32(n))
}
