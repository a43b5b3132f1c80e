package kinesis

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigZeroValueIsValidAndDefaulted(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{}.Validate())
	c := Config{}.withDefaults()
	assert.Equal(t, int32(DefaultFetchLimit), c.FetchLimit)
	assert.Equal(t, types.ShardIteratorTypeTrimHorizon, c.ShardIteratorType)
	assert.Equal(t, DefaultSeqNumCacheSize, c.SeqNumCacheSize)
	assert.Equal(t, DefaultPollInterval, c.PollInterval)
	assert.Equal(t, DefaultShardSyncInterval, c.ShardSyncInterval)
	assert.Equal(t, DefaultSendTimeout, c.SendTimeout)
	assert.Equal(t, DefaultRequestTimeout, c.RequestTimeout)
	assert.Zero(t, c.MaxSendRetries, "a write that may have been stored is not resent by default")
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Config{
		FetchLimit:        MaxFetchLimit + 1,
		ShardIteratorType: types.ShardIteratorTypeAtTimestamp,
		SeqNumCacheSize:   -1,
		PollInterval:      -time.Second,
		ShardSyncInterval: -time.Second,
		Region:            "a-region-name-that-is-far-too-long",
		SendTimeout:       -time.Second,
		MaxSendRetries:    -1,
		RequestTimeout:    -time.Second,
	}.Validate()
	require.Error(t, err)
	for _, want := range []string{"FetchLimit 10001", "ShardIteratorType \"AT_TIMESTAMP\"", "SeqNumCacheSize -1", "PollInterval -1s", "ShardSyncInterval -1s", "longer than 20", "SendTimeout -1s", "MaxSendRetries -1", "RequestTimeout -1s"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = NewProducer(context.Background(), Config{FetchLimit: -1})
	require.Error(t, err)
	_, err = NewConsumer(context.Background(), Config{}, ConsumerOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Topic is empty")
	assert.Contains(t, err.Error(), "neither DB nor Offsets")
}

func TestRegionResolution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, region, err := Config{Client: &fakeAPI{}}.client(ctx)
	require.NoError(t, err)
	assert.Equal(t, DefaultRegion, region)

	_, region, err = Config{AWS: &aws.Config{Region: "eu-west-1"}}.client(ctx)
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", region, "from the SDK configuration")

	_, region, err = Config{Region: "ap-south-1", AWS: &aws.Config{Region: "eu-west-1"}}.client(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ap-south-1", region, "explicit region wins")

	_, region, err = Config{AWS: &aws.Config{}}.client(ctx)
	require.NoError(t, err)
	assert.Equal(t, DefaultRegion, region, "none anywhere")
}
