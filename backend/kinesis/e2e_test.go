package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Account is the application model the end-to-end tests replicate.
type Account struct {
	ID      uint   `gorm:"primaryKey"`
	Name    string `gorm:"uniqueIndex;size:100"`
	Balance int
	LastSeq int
	// OutOfOrder counts updates that did not follow the previous one.
	OutOfOrder int
}

// AccountV1 is the message; its key is the account name.
type AccountV1 struct {
	Name    string `json:"name"`
	Balance int    `json:"balance"`
	Seq     int    `json:"seq"`
}

func (*AccountV1) MessageType() string { return "account" }
func (*AccountV1) Version() int        { return 1 }
func (*AccountV1) KeyField() string    { return "name" }

func (m *AccountV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var a Account
	err := tx.WithContext(ctx).Where("name = ?", m.Name).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &a, err
}

func (m *AccountV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	a, _ := instance.(*Account)
	if a == nil {
		a = &Account{Name: m.Name, LastSeq: -1}
	}
	if m.Seq != a.LastSeq+1 {
		a.OutOfOrder++
	}
	a.Balance, a.LastSeq = m.Balance, m.Seq
	return tx.WithContext(ctx).Save(a).Error
}

func e2eSettings(t *testing.T, db *gorm.DB) logpipe.Settings {
	endpoint := testenv.KinesisEndpoint(t)
	return logpipe.Settings{
		Backend: kinesis.New(kinesis.Config{
			Endpoint:     endpoint,
			Region:       "eu-west-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOGPIPETEST", "logpipe-test-secret", ""),
			PollInterval: 200 * time.Millisecond,
		}),
		DB: db,
	}
}

func e2eAdmin(t *testing.T) *awskinesis.Client {
	endpoint := testenv.KinesisEndpoint(t)
	return awskinesis.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOGPIPETEST", "logpipe-test-secret", ""),
	}, func(o *awskinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func e2eStream(t *testing.T, shards int32) string {
	admin := e2eAdmin(t)
	ctx := context.Background()
	name := testenv.Name("lp-e2e")
	_, err := admin.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	e2eWaitActive(t, name)
	return name
}

func e2eWaitActive(t *testing.T, stream string) {
	admin := e2eAdmin(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := admin.DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		require.True(t, time.Now().Before(deadline), "stream %s not active (last error: %v)", stream, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEndToEnd sends typed messages through logpipe's Producer, splits a
// shard half-way, and applies them with logpipe's Consumer into each test
// database, with the positions in logpipe_kinesisoffset.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			require.NoError(t, db.AutoMigrate(&Account{}))
			stream := e2eStream(t, 2)
			s := e2eSettings(t, db)
			ctx := context.Background()

			p, err := logpipe.NewProducer(context.Background(), s, stream)
			require.NoError(t, err)
			defer p.Close()
			const accounts, rounds = 8, 6
			seq := 0
			send := func(batch bool) {
				var msgs []logpipe.Message
				for a := range accounts {
					msgs = append(msgs, &AccountV1{Name: fmt.Sprintf("acct-%d", a), Balance: seq * 10, Seq: seq})
				}
				seq++
				if batch {
					poss, err := p.SendBatch(ctx, msgs)
					require.NoError(t, err)
					require.Len(t, poss, accounts)
					return
				}
				for _, m := range msgs {
					pos, err := p.Send(ctx, m)
					require.NoError(t, err)
					assert.Equal(t, stream, pos.Topic)
					assert.NotEmpty(t, pos.Shard)
				}
			}
			for r := range rounds / 2 {
				send(r%2 == 0)
			}

			// Split the first shard half-way through.
			admin := e2eAdmin(t)
			shards, err := admin.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String(stream)})
			require.NoError(t, err)
			first := shards.Shards[0]
			lo, _ := new(big.Int).SetString(aws.ToString(first.HashKeyRange.StartingHashKey), 10)
			hi, _ := new(big.Int).SetString(aws.ToString(first.HashKeyRange.EndingHashKey), 10)
			mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
			_, err = admin.SplitShard(ctx, &awskinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: first.ShardId, NewStartingHashKey: aws.String(mid.String())})
			require.NoError(t, err)
			e2eWaitActive(t, stream)
			for r := range rounds - rounds/2 {
				send(r%2 == 1)
			}

			c, err := logpipe.NewConsumer(s, stream, logpipe.WithIdleTimeout(time.Second))
			require.NoError(t, err)
			require.NoError(t, c.Register(&AccountV1{}))
			runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			require.NoError(t, c.Run(runCtx))
			require.NoError(t, runCtx.Err(), "Run returned at the idle timeout, not the deadline")

			var rows []Account
			require.NoError(t, db.Order("name").Find(&rows).Error)
			require.Len(t, rows, accounts)
			for _, a := range rows {
				assert.Equal(t, rounds-1, a.LastSeq, a.Name)
				assert.Equal(t, (rounds-1)*10, a.Balance, a.Name)
				assert.Zero(t, a.OutOfOrder, "%s applied out of order", a.Name)
			}
			var offsets []offsetstore.KinesisOffset
			require.NoError(t, db.Where("stream = ?", stream).Find(&offsets).Error)
			require.NotEmpty(t, offsets)
			for _, o := range offsets {
				assert.Equal(t, "eu-west-1", o.Region)
			}

			// A second run resumes from the stored positions: nothing is
			// applied again, and new messages are.
			send(false)
			require.NoError(t, c.Run(runCtx))
			require.NoError(t, db.Order("name").Find(&rows).Error)
			for _, a := range rows {
				assert.Equal(t, rounds, a.LastSeq, a.Name)
				assert.Zero(t, a.OutOfOrder, "%s applied twice or out of order", a.Name)
			}
		})
	}
}
