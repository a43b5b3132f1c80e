package kafka

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logpipe-go/logpipe/backend"
)

// When a partition's reader is replaced while Fetch collects (a rebalance
// gave the partition back under a new claim), the former reader's records
// are dropped from the batch, since the new reader reads them again from
// the stored position, and the batch's records of that partition are
// committed under the new claim's token. A stopped reader's records are
// never taken.
func TestTakeDropsAReplacedReadersRecords(t *testing.T) {
	t.Parallel()
	c := &Consumer{handed: map[int32]int64{}}
	old := &partitionReader{partition: 0, fence: 1}
	other := &partitionReader{partition: 1, fence: 1}
	fresh := &partitionReader{partition: 0, fence: 2}
	stopped := &partitionReader{partition: 2, fence: 1}
	stopped.stopped.Store(true)
	rec := func(r *partitionReader, off int64) fetched {
		return fetched{r: r, rec: backend.Record{Position: backend.Position{Topic: "t", Partition: r.partition, Offset: off}}}
	}
	batch := map[int32]*partitionReader{}
	var out []backend.Record
	for _, f := range []fetched{rec(old, 10), rec(other, 5), rec(old, 11), rec(stopped, 7), rec(fresh, 10)} {
		out = c.take(out, f, batch)
	}
	var got []string
	for _, r := range out {
		got = append(got, r.String())
	}
	assert.Equal(t, []string{"t/1@5", "t/0@10"}, got)
	assert.Equal(t, map[int32]int64{0: 2, 1: 1}, c.handed)
}
