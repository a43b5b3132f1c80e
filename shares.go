package logpipe

import (
	"errors"

	"github.com/logpipe-go/logpipe/backend"
)

// lostPartition reports whether err is a commit refused because another
// process took the record's partition or shard over
// (backend.ErrPartitionLost), and which record it was.
func lostPartition(err error) (Position, bool) {
	var re *RecordError
	if !errors.Is(err, backend.ErrPartitionLost) || !errors.As(err, &re) {
		return Position{}, false
	}
	return re.Position, true
}

// withoutPartition returns recs without the records of p's partition or
// shard: their new owner reads them again from the committed position.
func withoutPartition(recs []backend.Record, p Position) []backend.Record {
	out := recs[:0:0]
	for _, r := range recs {
		if r.Topic != p.Topic || r.Partition != p.Partition || r.Shard != p.Shard {
			out = append(out, r)
		}
	}
	return out
}
