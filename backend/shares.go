package backend

import "errors"

// ErrPartitionLost is matched (errors.Is) by the error of a Commit whose
// partition or shard is no longer this consumer's: another process took it
// over (its lease expired, or was taken to balance the work). Nothing was
// committed; the caller must roll the record's transaction back and drop
// the records of that partition or shard it has fetched and not applied:
// their new owner reads them again from the last committed position. The
// consumer stops reading the partition or shard itself.
//
// logpipe goes on with the same Consumer after such a rollback, so a
// backend that returns it must fence its commits by lease epoch or group
// generation (Checkpoint.Fence), not by the position it expects to find:
// positions of other partitions committed in the rolled-back transaction
// were never written.
var ErrPartitionLost = errors.New("logpipe/backend: the partition or shard was taken over by another consumer")
