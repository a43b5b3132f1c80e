package kafka_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
)

// keysFor returns a key for each of n partitions, each of which the
// producer sends to that partition.
func keysFor(n int) []string {
	keys := make([]string, n)
	found := 0
	for i := 0; found < n; i++ {
		k := fmt.Sprint("k", i)
		if p := kafka.PartitionForKey([]byte(k), n); keys[p] == "" {
			keys[p] = k
			found++
		}
	}
	return keys
}

// sendOneByOne writes records from..from+count-1 of topic's partitions
// (partitions of them) one produce request each: one goroutine per
// partition sends its records one at a time, so no two share a request and
// each is a record batch of one record, as kafka-python with linger 0
// writes them.
func sendOneByOne(t testing.TB, p *kafka.Producer, topic string, partitions, from, count int) {
	t.Helper()
	keys := keysFor(partitions)
	ctx := ctxTimeout(t, 5*time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, partitions)
	for part := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + part; i < from+count && errs[part] == nil; i += partitions {
				_, errs[part] = p.Send(ctx, backend.Message{Topic: topic, Key: []byte(keys[part]), Value: benchValue(i)})
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// sendInLargeBatches writes records from..from+count-1 through SendBatch:
// batches of up to MaxBatchBytes.
func sendInLargeBatches(t testing.TB, p *kafka.Producer, topic string, partitions, from, count int) {
	t.Helper()
	keys := keysFor(partitions)
	msgs := make([]backend.Message, count)
	for i := range msgs {
		msgs[i] = backend.Message{Topic: topic, Key: []byte(keys[(from+i)%partitions]), Value: benchValue(from + i)}
	}
	_, err := p.SendBatch(ctxTimeout(t, 5*time.Minute), msgs)
	require.NoError(t, err)
}

// noOffsets stores nothing: a consumer reads from the earliest offsets.
type noOffsets struct{}

func (noOffsets) Load(context.Context, string, string) ([]backend.Position, error) {
	return nil, nil
}

func (noOffsets) Commit(context.Context, *gorm.DB, backend.Checkpoint) error { return nil }

// TestConsumeMixedBatchSizesInOrder reads a topic whose partitions hold
// one-record batches, then large batches, then one-record batches again,
// with the default FetchMaxBytes and with the smallest useful one (one
// batch per fetch), and checks that every record arrives once, in order:
// the size of each fetch follows the batches (see nextFetchSize), and must
// lose or repeat nothing when they change.
func TestConsumeMixedBatchSizesInOrder(t *testing.T) {
	t.Parallel()
	const partitions, small, large = 2, 300, 3000
	topic := createTopic(t, partitions)
	p := newProducer(t, testConfig(t))
	sendOneByOne(t, p, topic, partitions, 0, small)
	sendInLargeBatches(t, p, topic, partitions, small, large)
	sendOneByOne(t, p, topic, partitions, small+large, small)
	const total = 2*small + large

	for _, fetchMax := range []int{0, 64 << 10} {
		t.Run(fmt.Sprint("FetchMaxBytes=", fetchMax), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.FetchMaxBytes = fetchMax
			c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, Offsets: noOffsets{}})
			got := consume(t, c, total, nil)
			require.Len(t, got, total)
			next := map[int32]int64{}
			seen := map[string]bool{}
			for _, r := range got {
				assert.Equal(t, next[r.Partition], r.Offset, "partition %d: offsets in order, none skipped", r.Partition)
				next[r.Partition] = r.Offset + 1
				assert.False(t, seen[string(r.Value)], "record at %d/%d read twice", r.Partition, r.Offset)
				seen[string(r.Value)] = true
			}
			for i := range total {
				assert.True(t, seen[string(benchValue(i))], "record %d read", i)
			}
			assertNoMore(t, c)
		})
	}
}

// BenchmarkConsumeBatchShapes reads 5,000 records written one record per
// batch (as django-logpipe's producer writes them) and the same written in
// large batches, each iteration through a new Consumer committing nothing,
// and reports the heap allocated per 1,000 records. The peak RSS of a
// whole consumer process is measured by internal/memprobe (see
// docs/kafka-bench.md).
func BenchmarkConsumeBatchShapes(b *testing.B) {
	const partitions, records = 4, 5000
	for _, shape := range []struct {
		name string
		fill func(testing.TB, *kafka.Producer, string, int, int, int)
	}{{"one-record-batches", sendOneByOne}, {"large-batches", sendInLargeBatches}} {
		b.Run(shape.name, func(b *testing.B) {
			topic := createTopic(b, partitions)
			shape.fill(b, newProducer(b, testConfig(b)), topic, partitions, 0, records)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c, err := kafka.NewConsumer(testConfig(b), kafka.ConsumerOptions{Topic: topic, Offsets: noOffsets{}})
				if err != nil {
					b.Fatal(err)
				}
				consume(b, c, records, nil)
				_ = c.Close()
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			read := float64(b.N * records)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20)*1000/read, "MB/1000records")
			b.ReportMetric(read/b.Elapsed().Seconds(), "records/s")
		})
	}
}
