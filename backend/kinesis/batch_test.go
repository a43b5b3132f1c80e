package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
)

// fakeAPI is an in-process Kinesis with one shard, for unit tests of the
// producer: it appends records, and fails PutRecords entries as scripted.
type fakeAPI struct {
	mu sync.Mutex
	// failEntry decides whether the i-th entry ever submitted fails.
	failEntry func(i int, key, data string) bool
	entries   int
	calls     [][]string // partition keys of each PutRecords call
	written   []string   // data in the order written
	err       error      // returned by every call when set
}

func (f *fakeAPI) PutRecord(_ context.Context, in *kinesis.PutRecordInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.written = append(f.written, string(in.Data))
	return &kinesis.PutRecordOutput{ShardId: aws.String("shardId-0"), SequenceNumber: aws.String(strconv.Itoa(len(f.written)))}, nil
}

func (f *fakeAPI) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := &kinesis.PutRecordsOutput{}
	var keys []string
	for _, r := range in.Records {
		key := aws.ToString(r.PartitionKey)
		keys = append(keys, key)
		f.entries++
		if f.failEntry != nil && f.failEntry(f.entries, key, string(r.Data)) {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("slow down")})
			continue
		}
		f.written = append(f.written, string(r.Data))
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String("shardId-0"), SequenceNumber: aws.String(strconv.Itoa(len(f.written)))})
	}
	f.calls = append(f.calls, keys)
	return out, nil
}

func (f *fakeAPI) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return nil, errors.New("not faked")
}

func (f *fakeAPI) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return nil, errors.New("not faked")
}

func (f *fakeAPI) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return nil, errors.New("not faked")
}

func TestSendBatchKeepsPerKeyOrderWhenEntriesFail(t *testing.T) {
	t.Parallel()
	// Every entry of key "a" fails on its first try, and every 5th entry
	// overall fails: retrying only the failed entries must not put a
	// later record of a key before an earlier one.
	triedA := map[string]bool{}
	fake := &fakeAPI{}
	fake.failEntry = func(i int, key, data string) bool {
		if key == "a" && !triedA[data] {
			triedA[data] = true // the retry passes
			return true
		}
		return i%5 == 0
	}
	p, err := NewProducer(context.Background(), Config{Client: fake})
	require.NoError(t, err)
	var msgs []backend.Message
	next := map[string]int{}
	for i := range 200 {
		key := []string{"a", "b", "c", fmt.Sprintf("u%d", i)}[i%4]
		msgs = append(msgs, backend.Message{Topic: "s", Key: []byte(key), Value: []byte(fmt.Sprintf("%s:%d", key, next[key]))})
		next[key]++
	}
	poss, err := p.SendBatch(context.Background(), msgs)
	require.NoError(t, err)
	require.Len(t, poss, len(msgs))
	for i, pos := range poss {
		require.NotEmpty(t, pos.SequenceNumber, "record %d has a position", i)
		assert.Equal(t, "s", pos.Topic)
	}

	// Each key's records were written once each, in order.
	seen := map[string]int{}
	for _, w := range fake.written {
		key, n, _ := strings.Cut(w, ":")
		require.Equal(t, strconv.Itoa(seen[key]), n, "record of key %s out of order", key)
		seen[key]++
	}
	assert.Equal(t, next, seen)
	for _, call := range fake.calls {
		assert.LessOrEqual(t, len(call), maxBatchRecords)
		dup := map[string]bool{}
		for _, k := range call {
			require.False(t, dup[k], "key %s twice in one call", k)
			dup[k] = true
		}
	}
}

func TestSendReturnsErrorWhenContextEndsWhileThrottled(t *testing.T) {
	t.Parallel()
	fake := &fakeAPI{err: &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}}
	p, err := NewProducer(context.Background(), Config{Client: fake})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = p.Send(ctx, backend.Message{Topic: "s", Value: []byte("v")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "ProvisionedThroughputExceeded")

	_, err = p.SendBatch(ctx, []backend.Message{{Topic: "s", Value: []byte("v")}})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	fake.mu.Lock()
	fake.err = &types.ResourceNotFoundException{Message: aws.String("no such stream")}
	fake.mu.Unlock()
	_, err = p.Send(context.Background(), backend.Message{Topic: "s", Value: []byte("v")})
	var notFound *types.ResourceNotFoundException
	require.ErrorAs(t, err, &notFound, "a permanent error is returned at once")

	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err = p.Send(context.Background(), backend.Message{Topic: "s", Value: []byte("v")})
	require.ErrorIs(t, err, ErrClosed)
}

func TestPartitionKeyLimits(t *testing.T) {
	t.Parallel()
	_, _, err := partitionKey(backend.Message{Topic: "s", Key: []byte(strings.Repeat("k", 257))})
	require.Error(t, err)
	_, _, err = partitionKey(backend.Message{Topic: "s", Key: []byte{0xff}})
	require.Error(t, err)
	_, _, err = partitionKey(backend.Message{Key: []byte("k")})
	require.Error(t, err)
	k, keyed, err := partitionKey(backend.Message{Topic: "s", Key: []byte("ключ")})
	require.NoError(t, err)
	assert.True(t, keyed)
	assert.Equal(t, "ключ", k)
}
