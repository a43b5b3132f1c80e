package kafka

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// nextFetchSize asks for FetchMaxBytes/64 KiB batches of the previous
// response's smallest, within FetchMaxBytes.
func TestNextFetchSize(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	assert.Equal(t, 16*minBatchSize, nextFetchSize(mib, batchStats{}), "before any response: the smallest batches possible")
	assert.Equal(t, 16*300, nextFetchSize(mib, batchStats{batches: 40, smallest: 300}), "one-record batches: 16 of them")
	assert.Equal(t, mib, nextFetchSize(mib, batchStats{batches: 1, smallest: 800 << 10}), "large batches: FetchMaxBytes")
	assert.Equal(t, 4*mib, nextFetchSize(4*mib, batchStats{batches: 2, smallest: 1 << 20}))
	assert.Equal(t, 300, nextFetchSize(32<<10, batchStats{batches: 3, smallest: 300}), "FetchMaxBytes under 64 KiB: one batch")
	assert.Equal(t, 16*minBatchSize, nextFetchSize(mib, batchStats{batches: 1, smallest: 10}), "never under the smallest batch possible")
}
