package kinesis

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
)

// faults is an SDK middleware that injects Kinesis errors into calls to the
// emulator and captures what the producer sends.
type faults struct {
	mu sync.Mutex
	// Every n-th call of an operation fails with a throttling error.
	throttleGetRecords, throttlePutRecord, throttlePutRecords int
	// Every n-th entry of a PutRecords call fails (the others are sent).
	failPutRecordsEntry int
	// expireAt makes the n-th GetRecords call fail with an expired
	// iterator.
	expireAt int

	calls    map[string]int
	entries  int
	injected map[string]int
	// puts are the successful PutRecord calls, in order.
	puts []capturedPut
}

type capturedPut struct {
	key, seqForOrdering, seq string
}

func newFaults() *faults {
	return &faults{calls: map[string]int{}, injected: map[string]int{}}
}

func (f *faults) count(op string, every int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if every > 0 && f.calls[op]%every == 0 {
		f.injected[op]++
		return true
	}
	return false
}

func (f *faults) injectedCount(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected[op]
}

func (f *faults) captured() []capturedPut {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]capturedPut(nil), f.puts...)
}

func throttled() error {
	return &types.ProvisionedThroughputExceededException{Message: aws.String("injected by the test")}
}

// add installs the middleware on a client's stack.
func (f *faults) add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("logpipeTestFaults", f.handle), middleware.After)
}

func (f *faults) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	switch p := in.Parameters.(type) {
	case *kinesis.GetRecordsInput:
		f.mu.Lock()
		expire := f.expireAt > 0 && f.calls["GetRecords"]+1 == f.expireAt
		f.mu.Unlock()
		if f.count("GetRecords", f.throttleGetRecords) {
			return middleware.InitializeOutput{}, middleware.Metadata{}, throttled()
		}
		if expire {
			f.mu.Lock()
			f.injected["ExpiredIterator"]++
			f.mu.Unlock()
			return middleware.InitializeOutput{}, middleware.Metadata{}, &types.ExpiredIteratorException{Message: aws.String("injected by the test")}
		}
	case *kinesis.PutRecordInput:
		if f.count("PutRecord", f.throttlePutRecord) {
			return middleware.InitializeOutput{}, middleware.Metadata{}, throttled()
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			if res, ok := out.Result.(*kinesis.PutRecordOutput); ok {
				f.mu.Lock()
				f.puts = append(f.puts, capturedPut{key: aws.ToString(p.PartitionKey), seqForOrdering: aws.ToString(p.SequenceNumberForOrdering), seq: aws.ToString(res.SequenceNumber)})
				f.mu.Unlock()
			}
		}
		return out, md, err
	case *kinesis.PutRecordsInput:
		if f.count("PutRecords", f.throttlePutRecords) {
			return middleware.InitializeOutput{}, middleware.Metadata{}, throttled()
		}
		if f.failPutRecordsEntry > 0 {
			return f.partialPutRecords(ctx, in, p, next)
		}
	}
	return next.HandleInitialize(ctx, in)
}

// partialPutRecords sends only some entries of p and reports the others as
// throttled, as Kinesis does when a shard is over its limit.
func (f *faults) partialPutRecords(ctx context.Context, in middleware.InitializeInput, p *kinesis.PutRecordsInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	failed := make([]bool, len(p.Records))
	sent := *p
	sent.Records = nil
	f.mu.Lock()
	for i, r := range p.Records {
		f.entries++
		if f.entries%f.failPutRecordsEntry == 0 {
			failed[i] = true
			f.injected["PutRecordsEntry"]++
			continue
		}
		sent.Records = append(sent.Records, r)
	}
	f.mu.Unlock()
	var res *kinesis.PutRecordsOutput
	out, md := middleware.InitializeOutput{}, middleware.Metadata{}
	if len(sent.Records) > 0 {
		in.Parameters = &sent
		var err error
		out, md, err = next.HandleInitialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		res = out.Result.(*kinesis.PutRecordsOutput)
	} else {
		res = &kinesis.PutRecordsOutput{}
	}
	merged := &kinesis.PutRecordsOutput{}
	j := 0
	for i := range p.Records {
		if failed[i] {
			merged.Records = append(merged.Records, types.PutRecordsResultEntry{
				ErrorCode:    aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("injected by the test"),
			})
			merged.FailedRecordCount = aws.Int32(aws.ToInt32(merged.FailedRecordCount) + 1)
			continue
		}
		merged.Records = append(merged.Records, res.Records[j])
		j++
	}
	out.Result = merged
	return out, md, nil
}
