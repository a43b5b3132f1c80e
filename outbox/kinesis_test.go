package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/outbox"
)

func kinesisConfig(endpoint string) kinesis.Config {
	return kinesis.Config{
		Region:       "us-east-1",
		Endpoint:     endpoint,
		PollInterval: 200 * time.Millisecond,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "outbox test"}, nil
		}),
	}
}

// createStream creates a stream of n shards on the emulator, deleted when
// the test ends.
func createStream(t *testing.T, endpoint string, n int32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := kinesisConfig(endpoint)
	cl := awskinesis.New(awskinesis.Options{Region: cfg.Region, Credentials: cfg.Credentials, BaseEndpoint: aws.String(endpoint)})
	name := testenv.Name("outbox")
	_, err := cl.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(n)})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = cl.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
	})
	for {
		out, err := cl.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return name
		}
		require.NoError(t, ctx.Err(), "stream %s not active (last error: %v)", name, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKinesisRelayKeepsPerKeyOrder: writers commit changes through the
// outbox while two relays send them to a two-shard Kinesis stream; every
// committed change arrives, none rolled back, each key in commit order.
func TestKinesisRelayKeepsPerKeyOrder(t *testing.T) {
	endpoint := testenv.KinesisEndpoint(t)
	db := postgres(t)
	require.NoError(t, db.AutoMigrate(&Entity{}))
	const keys, writers, perWriter = 30, 3, 100
	for i := range keys {
		require.NoError(t, db.Create(&Entity{ID: fmt.Sprintf("k%02d", i)}).Error)
	}
	stream := createStream(t, endpoint, 2)
	s := logpipe.Settings{Backend: kinesis.New(kinesisConfig(endpoint)), DB: db, Logger: quiet}
	w, err := outbox.NewWriter(s, stream)
	require.NoError(t, err)
	runRelay(t, s, outbox.WithBatchSize(40))
	runRelay(t, s, outbox.WithBatchSize(40))

	ctx := context.Background()
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		rolledBack = map[string]bool{}
		errs       = make(chan error, writers)
	)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				attempt := fmt.Sprintf("w%d-%d", g, i)
				rollback := i%10 == 3
				if _, err := change(ctx, db, w, fmt.Sprintf("k%02d", (i*7+g)%keys), attempt, rollback); err != nil {
					errs <- err
					return
				}
				if rollback {
					mu.Lock()
					rolledBack[attempt] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	waitDrained(t, db, time.Minute)

	var final []Entity
	require.NoError(t, db.Find(&final).Error)
	want := 0
	for _, e := range final {
		want += e.N
	}
	// Read the stream back from the start.
	c, err := s.Backend.NewConsumer(ctx, backend.ConsumerOptions{Topic: stream, DB: testenv.SQLite(t), Logger: quiet})
	require.NoError(t, err)
	defer c.Close()
	got := map[string][]int{}
	total := 0
	deadline := time.Now().Add(time.Minute)
	for total < want && time.Now().Before(deadline) {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		recs, err := c.Fetch(fctx)
		cancel()
		require.NoError(t, err)
		for _, r := range recs {
			var env struct {
				Message Change `json:"message"`
			}
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(string(r.Value), "json:")), &env))
			assert.False(t, rolledBack[env.Message.Attempt], "rolled-back change %s was sent", env.Message.Attempt)
			got[env.Message.ID] = append(got[env.Message.ID], env.Message.N)
			total++
		}
	}
	t.Logf("%d committed changes of %d keys, %d rolled back, read back from %d shards", want, keys, len(rolledBack), 2)
	require.Positive(t, want)
	require.Equal(t, want, total, "every committed change arrived once (no failure, so no duplicate)")
	for _, e := range final {
		seq := make([]int, e.N)
		for i := range seq {
			seq[i] = i + 1
		}
		assert.Equal(t, seq, got[e.ID], "key %s in commit order", e.ID)
	}
	assert.NotEmpty(t, rolledBack)
}
