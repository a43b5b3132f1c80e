package murmur2

import (
	"fmt"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
)

// The partitions chosen match kafka-go's Murmur2Balancer{Consistent: true},
// which the Kafka backend uses and which is tested against Kafka's own Java
// producer in backend/kafka.
func TestMatchesKafkaGo(t *testing.T) {
	for n := 1; n <= 12; n++ {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		for i := 0; i < 500; i++ {
			s := fmt.Sprintf("key-%d-%c-0123456789", i, rune('a'+i%26))
			key := []byte(s[:1+i%len(s)])
			want := kafkago.Murmur2Balancer{Consistent: true}.Balance(kafkago.Message{Key: key}, ids...)
			assert.Equal(t, want, Partition(key, n), "key %q of %d partitions", key, n)
		}
	}
}
