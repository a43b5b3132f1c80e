package kinesis

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

const testRegion = "us-east-1"

// testAWS returns an SDK configuration for the emulator, with fake static
// credentials and the given middleware.
func testAWS(apiOptions ...func(*middleware.Stack) error) *aws.Config {
	return &aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOGPIPETEST", "logpipe-test-secret", ""),
		APIOptions:  apiOptions,
	}
}

// testConfig returns a Config for the emulator.
func testConfig(t testing.TB, apiOptions ...func(*middleware.Stack) error) Config {
	t.Helper()
	return Config{
		Endpoint:     testenv.KinesisEndpoint(t),
		AWS:          testAWS(apiOptions...),
		PollInterval: 200 * time.Millisecond,
	}
}

// adminClient returns a plain client for creating and resharding streams.
func adminClient(t testing.TB) *kinesis.Client {
	t.Helper()
	endpoint := testenv.KinesisEndpoint(t)
	return kinesis.NewFromConfig(*testAWS(), func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// createStream creates a stream with a unique name and the given number of
// shards, waits until it is active, and deletes it when the test ends.
func createStream(t testing.TB, shards int32) string {
	t.Helper()
	ctx := context.Background()
	cl := adminClient(t)
	name := testenv.Name("lp-kinesis")
	_, err := cl.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = cl.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
	})
	waitActive(t, name)
	return name
}

// waitActive waits until the stream is ACTIVE again (after a reshard).
func waitActive(t testing.TB, stream string) {
	t.Helper()
	cl := adminClient(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := cl.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		require.True(t, time.Now().Before(deadline), "stream %s not active in time (last error: %v)", stream, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// openShards returns the stream's open shards, sorted by starting hash key.
func openShards(t testing.TB, stream string) []types.Shard {
	t.Helper()
	out, err := adminClient(t).ListShards(context.Background(), &kinesis.ListShardsInput{
		StreamName:  aws.String(stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
	})
	require.NoError(t, err)
	return out.Shards
}

// midHashKey is the middle of a shard's hash key range, where to split it.
func midHashKey(sh types.Shard) string {
	lo, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Add(lo, hi)
	return mid.Rsh(mid, 1).String()
}

// newTestProducer returns a producer on the emulator, closed with the test.
func newTestProducer(t testing.TB, cfg Config) *Producer {
	t.Helper()
	p, err := NewProducer(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// newTestConsumer returns a consumer of stream on the emulator.
func newTestConsumer(t testing.TB, cfg Config, stream string, db *gorm.DB) *Consumer {
	t.Helper()
	c, err := NewConsumer(context.Background(), cfg, ConsumerOptions{Topic: stream, DB: db})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// applied is what a test consumer has applied: the values in order, per key.
type applied struct {
	mu     sync.Mutex
	byKey  map[string][]string
	count  map[string]int
	total  int
	shards map[string]bool
}

func newApplied() *applied {
	return &applied{byKey: map[string][]string{}, count: map[string]int{}, shards: map[string]bool{}}
}

func (a *applied) add(r backend.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byKey[string(r.Key)] = append(a.byKey[string(r.Key)], string(r.Value))
	a.count[string(r.Value)]++
	a.total++
	a.shards[r.Shard] = true
}

func (a *applied) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

// consumeUntil fetches from c, committing each record in a transaction of
// db, until want records have been applied in all (counting a) or the
// timeout passes.
func consumeUntil(t testing.TB, c *Consumer, db *gorm.DB, a *applied, want int, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	require.NoError(t, consume(ctx, c, db, a, want))
}

// consume is consumeUntil for use in another goroutine: it returns the error.
func consume(ctx context.Context, c *Consumer, db *gorm.DB, a *applied, want int) error {
	for a.len() < want {
		recs, err := c.Fetch(ctx)
		if err != nil {
			return fmt.Errorf("fetched %d of %d records: %w", a.len(), want, err)
		}
		for _, r := range recs {
			err := db.Transaction(func(tx *gorm.DB) error {
				a.add(r)
				return c.Commit(ctx, tx, r)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// value renders the n-th value of key, ordered by n.
func value(key string, n int) string { return fmt.Sprintf("%s#%06d", key, n) }

// requireInOrder checks that every key's values are exactly 0..n-1 in order.
func requireInOrder(t testing.TB, a *applied, perKey map[string]int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, n := range perKey {
		want := make([]string, n)
		for i := range want {
			want[i] = value(key, i)
		}
		require.Equal(t, want, a.byKey[key], "records of key %q out of order or missing", key)
	}
}
