package kinesis

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/logpipe-go/logpipe/internal/backoff"
)

// Read pacing per shard.
const (
	// minReadInterval keeps a consumer within AWS's limit of 5 GetRecords
	// calls per second per shard.
	minReadInterval = 200 * time.Millisecond
	// Delays after a throttled or failed read of one shard; other shards
	// are read meanwhile.
	readBackoffMin = time.Second
	readBackoffMax = 10 * time.Second
)

// shard is what the consumer knows of one shard of its stream.
type shard struct {
	id string
	// parents are the shards this one was split or merged from.
	parents []string
	// start is where to begin when there is no position to resume after.
	start types.ShardIteratorType
	// after is the sequence number of the last record handed out (the
	// stored position at first), where a new iterator resumes.
	after string
	// iterator is the current shard iterator; empty means get a new one.
	iterator string
	// ended: the shard is closed and was read to its end.
	ended bool
	// gone: the shard is no longer listed (trimmed after the retention
	// period), or it is a placeholder for a parent that a listing made
	// after its child was known did not show; it is not read and does not
	// hold back its children.
	gone bool
	// atTip: the last read returned no records and MillisBehindLatest 0.
	atTip bool
	// behind is the last read's MillisBehindLatest (see ops.go).
	behind time.Duration
	// readAt is the earliest time of the next read.
	readAt time.Time
	// retry spaces out reads after throttling and errors.
	retry backoff.Backoff
	// failures counts the consecutive calls on this shard that failed with
	// an error that is not transient.
	failures int
	// epoch is the lease epoch under which the shard is read (Config.Leases),
	// and leasedAfter the position loaded when the lease was taken; 0 and
	// "" without leases.
	epoch       int64
	leasedAfter string
}

func newShard(id string, parents []string, start types.ShardIteratorType, after string) *shard {
	return &shard{
		id:      id,
		parents: parents,
		start:   start,
		after:   after,
		retry:   backoff.Backoff{Policy: backoff.Policy{Min: readBackoffMin, Max: readBackoffMax, Jitter: true}},
	}
}

// done reports whether the shard needs no more reading.
func (s *shard) done() bool { return s.ended || s.gone }

// parentsOf returns the parent ids of a listed shard.
func parentsOf(parent, adjacent *string) []string {
	var ps []string
	for _, p := range []*string{parent, adjacent} {
		if p != nil && *p != "" {
			ps = append(ps, *p)
		}
	}
	return ps
}
