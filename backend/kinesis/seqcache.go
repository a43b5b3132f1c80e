package kinesis

import (
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// seqCache remembers, per stream, the sequence number of the last record
// sent with each partition key, for the SequenceNumberForOrdering of the
// next one. Each stream keeps its size most recently used keys.
type seqCache struct {
	size    int
	mu      sync.Mutex
	streams map[string]*lru.Cache[string, string]
}

func newSeqCache(size int) *seqCache {
	return &seqCache{size: size, streams: make(map[string]*lru.Cache[string, string])}
}

func (c *seqCache) stream(name string) *lru.Cache[string, string] {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.streams[name]
	if !ok {
		// lru.New fails only for a size below 1, which Config.Validate
		// and withDefaults rule out.
		s, _ = lru.New[string, string](c.size)
		c.streams[name] = s
	}
	return s
}

// get returns the last sequence number sent with key on stream.
func (c *seqCache) get(stream, key string) (string, bool) {
	return c.stream(stream).Get(key)
}

// put records seq as the last sequence number sent with key on stream.
func (c *seqCache) put(stream, key, seq string) {
	c.stream(stream).Add(key, seq)
}
