package kinesis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/logpipe-go/logpipe/backend"
)

// fakeStream is an in-process Kinesis stream for unit tests of the
// consumer: shards with parents, records, closed shards with children, and
// hooks to inject errors or delays into each call.
type fakeStream struct {
	mu     sync.Mutex
	shards map[string]*fakeShard
	ids    []string
	// unlisted hides shards from ListShards (created by a reshard the
	// consumer has not listed yet, or trimmed).
	unlisted map[string]bool
	// before runs first in every call, with the operation name and
	// shard id ("" for ListShards and the Put calls); a non-nil error is
	// returned instead of the call's result.
	before func(ctx context.Context, op, shard string) error
	// afterGetRecords runs after GetRecords has its result.
	afterGetRecords func()
	// entryError, when set, gives the error code of the n-th PutRecords
	// entry ever sent ("" for success).
	entryError func(n int) string
	entries    int
	// starts records the iterator type of each GetShardIterator call per
	// shard.
	starts map[string][]types.ShardIteratorType
	// sdkAttempts records RetryMaxAttempts after applying each call's
	// options, per operation.
	sdkAttempts map[string][]int
	// calls counts the calls per operation.
	calls map[string]int
}

type fakeShard struct {
	id       string
	parents  []string
	children []string
	records  []string
	closed   bool
}

func newFakeStream() *fakeStream {
	return &fakeStream{
		shards:      map[string]*fakeShard{},
		unlisted:    map[string]bool{},
		starts:      map[string][]types.ShardIteratorType{},
		sdkAttempts: map[string][]int{},
		calls:       map[string]int{},
	}
}

// shard adds a shard with the given parents and record values; closed
// shards end after their records. The children of closed shards are
// derived from the parents of later shards.
func (f *fakeStream) shard(id string, closed bool, parents []string, records ...string) *fakeStream {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards[id] = &fakeShard{id: id, parents: parents, records: records, closed: closed}
	f.ids = append(f.ids, id)
	for _, p := range parents {
		if ps, ok := f.shards[p]; ok {
			ps.children = append(ps.children, id)
		}
	}
	return f
}

func (f *fakeStream) setListed(id string, listed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlisted[id] = !listed
}

func (f *fakeStream) hook(ctx context.Context, op, shard string, optFns []func(*kinesis.Options)) error {
	f.mu.Lock()
	var o kinesis.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.sdkAttempts[op] = append(f.sdkAttempts[op], o.RetryMaxAttempts)
	f.calls[op]++
	before := f.before
	f.mu.Unlock()
	if before != nil {
		return before(ctx, op, shard)
	}
	return nil
}

// count returns the number of calls of op so far.
func (f *fakeStream) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// setBefore replaces the hook run first in every call.
func (f *fakeStream) setBefore(h func(ctx context.Context, op, shard string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = h
}

func seqOf(i int) string { return fmt.Sprintf("%021d", i+1) }

func (f *fakeStream) ListShards(ctx context.Context, _ *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if err := f.hook(ctx, "ListShards", "", optFns); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &kinesis.ListShardsOutput{}
	for _, id := range f.ids {
		if f.unlisted[id] {
			continue
		}
		sh := types.Shard{ShardId: aws.String(id)}
		if ps := f.shards[id].parents; len(ps) > 0 {
			sh.ParentShardId = aws.String(ps[0])
			if len(ps) > 1 {
				sh.AdjacentParentShardId = aws.String(ps[1])
			}
		}
		out.Shards = append(out.Shards, sh)
	}
	return out, nil
}

func (f *fakeStream) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	id := aws.ToString(in.ShardId)
	if err := f.hook(ctx, "GetShardIterator", id, optFns); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts[id] = append(f.starts[id], in.ShardIteratorType)
	sh, ok := f.shards[id]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard " + id)}
	}
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeLatest:
		pos = len(sh.records)
	case types.ShardIteratorTypeAfterSequenceNumber:
		pos = -1
		for i := range sh.records {
			if seqOf(i) == aws.ToString(in.StartingSequenceNumber) {
				pos = i + 1
			}
		}
		if pos < 0 {
			return nil, &types.InvalidArgumentException{Message: aws.String("sequence number not in shard")}
		}
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(id + "|" + strconv.Itoa(pos))}, nil
}

func (f *fakeStream) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	id, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "|")
	if err := f.hook(ctx, "GetRecords", id, optFns); err != nil {
		return nil, err
	}
	f.mu.Lock()
	pos, _ := strconv.Atoi(p)
	sh := f.shards[id]
	end := min(pos+int(aws.ToInt32(in.Limit)), len(sh.records))
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(0)}
	for i := pos; i < end; i++ {
		out.Records = append(out.Records, types.Record{
			SequenceNumber: aws.String(seqOf(i)),
			PartitionKey:   aws.String("k"),
			Data:           []byte(sh.records[i]),
		})
	}
	if end < len(sh.records) {
		out.MillisBehindLatest = aws.Int64(1000)
	}
	if sh.closed && end == len(sh.records) {
		for _, ch := range sh.children {
			out.ChildShards = append(out.ChildShards, types.ChildShard{ShardId: aws.String(ch), ParentShards: f.shards[ch].parents})
		}
	} else {
		out.NextShardIterator = aws.String(id + "|" + strconv.Itoa(end))
	}
	after := f.afterGetRecords
	f.mu.Unlock()
	if after != nil {
		after()
	}
	return out, nil
}

func (f *fakeStream) PutRecord(ctx context.Context, _ *kinesis.PutRecordInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error) {
	if err := f.hook(ctx, "PutRecord", "", optFns); err != nil {
		return nil, err
	}
	return &kinesis.PutRecordOutput{ShardId: aws.String("shardId-0"), SequenceNumber: aws.String(seqOf(0))}, nil
}

func (f *fakeStream) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if err := f.hook(ctx, "PutRecords", "", optFns); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &kinesis.PutRecordsOutput{}
	for i := range in.Records {
		f.entries++
		if f.entryError != nil {
			if code := f.entryError(f.entries); code != "" {
				out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected by the test")})
				continue
			}
		}
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String("shardId-0"), SequenceNumber: aws.String(seqOf(i))})
	}
	return out, nil
}

// backendMessage is backend.Message, named for brevity in tests.
type backendMessage = backend.Message

// testMessage is a small keyed message to stream "s".
func testMessage(key string) backend.Message {
	return backend.Message{Topic: "s", Key: []byte(key), Value: []byte("v")}
}
