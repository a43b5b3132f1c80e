package kinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Defaults applied by Config for fields left at their zero value.
const (
	// DefaultRegion is used when Config.Region is empty and the SDK's
	// default chain (AWS_REGION, the shared config file) names none, as in
	// django-logpipe.
	DefaultRegion = "us-east-1"
	// DefaultFetchLimit is the number of records asked of one GetRecords
	// call. AWS allows 5 GetRecords calls per second per shard, so a limit
	// of L reads at most 5*L records per second from a shard; the
	// original's 25 caps a shard at 125 records/s, far below the 1,000
	// records/s a shard accepts from producers, so a consumer could never
	// catch up. 1,000 reads up to 5,000 records/s, enough to drain a
	// backlog of a shard written at full speed, while a page stays small
	// enough (at most 10 MiB, AWS's limit per call, with 1 MiB records) to
	// hold in memory.
	DefaultFetchLimit = 1000
	// MaxFetchLimit is the largest limit GetRecords accepts.
	MaxFetchLimit = 10000
	// DefaultSeqNumCacheSize is the number of partition keys per stream
	// whose last sequence number the producer remembers (the original's
	// 1000).
	DefaultSeqNumCacheSize = 1000
	// DefaultPollInterval is how long Fetch waits for records before it
	// returns an empty slice.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultShardSyncInterval is how often the consumer lists the stream's
	// shards to find shards it does not know yet.
	DefaultShardSyncInterval = 10 * time.Second
	// DefaultSendTimeout is how long Send and SendBatch try before they
	// give up, like django-logpipe's KAFKA_SEND_TIMEOUT for Kafka.
	DefaultSendTimeout = 10 * time.Second
	// DefaultRequestTimeout is how long one Kinesis API call may take. A
	// call on a connection that hangs would otherwise block a Send or a
	// Fetch for as long as the operating system keeps the connection.
	DefaultRequestTimeout = 10 * time.Second
)

// DefaultShardIteratorType is where a shard with no stored position starts:
// its oldest record still kept, as in django-logpipe.
const DefaultShardIteratorType = types.ShardIteratorTypeTrimHorizon

// Config configures the Kinesis producer and consumer. The zero value is
// usable: it reads the region and credentials from the AWS SDK's default
// chain (environment, shared config and credentials files, SSO, container
// and instance roles).
type Config struct {
	// Region is the AWS region of the stream. Empty means the SDK's
	// default chain (AWS_REGION, AWS_DEFAULT_REGION, the shared config
	// file), else DefaultRegion (us-east-1). The resolved region is also
	// part of the consumer's key in logpipe_kinesisoffset.
	Region string
	// Endpoint overrides the Kinesis endpoint URL, for local emulators
	// such as kinesis-mock ("http://127.0.0.1:4568"). Empty means AWS's
	// endpoint for the region.
	Endpoint string
	// FetchLimit is the number of records asked of each GetRecords call,
	// 1 to MaxFetchLimit (10000). Zero means DefaultFetchLimit (1000); see
	// there why it is not the original's 25.
	FetchLimit int32
	// ShardIteratorType is where the consumer starts reading a shard that
	// has no stored position and no known parent:
	// types.ShardIteratorTypeTrimHorizon (the default, the oldest record
	// kept) or types.ShardIteratorTypeLatest (only records written from now
	// on). A shard whose parent is listed or has a stored position, and any
	// shard created by a reshard while the consumer runs, is always read
	// from its start (TRIM_HORIZON): its records follow the parent's, and
	// starting it at LATEST would lose those written while no consumer ran.
	ShardIteratorType types.ShardIteratorType
	// SeqNumCacheSize is the number of partition keys per stream whose
	// last sequence number the producer remembers, to pass it as
	// SequenceNumberForOrdering. Zero means DefaultSeqNumCacheSize (1000).
	SeqNumCacheSize int
	// PollInterval is how long the consumer's Fetch waits for records
	// before it returns an empty slice. Zero means DefaultPollInterval
	// (500ms).
	PollInterval time.Duration
	// ShardSyncInterval is how often the consumer lists the stream's
	// shards to pick up shards it does not know. Children of a shard that
	// closes are found at once (from GetRecords' ChildShards); this catches
	// the rest. Zero means DefaultShardSyncInterval (10s).
	ShardSyncInterval time.Duration
	// SendTimeout is how long Send and SendBatch keep trying before they
	// give up with an error wrapping ErrSendTimeout: throttling is retried
	// until then. For SendBatch the clock starts again whenever a call
	// writes some records, so a large batch is not cut short while it makes
	// progress. Zero means DefaultSendTimeout (10s).
	SendTimeout time.Duration
	// MaxSendRetries is how many times a write that failed after Kinesis
	// may have stored it (a timeout, a connection reset, a 5xx response or
	// an InternalFailure entry) is sent again. Default 0: such a failure is
	// returned at once, matching backend.ErrMaybeWritten. Each retry may
	// store the record once more (a record is stored at most
	// 1+MaxSendRetries times); writes that Kinesis refused without storing
	// anything (throttling, a refused connection) are always retried until
	// SendTimeout, since that cannot duplicate.
	MaxSendRetries int
	// RequestTimeout is how long one API call (PutRecord, PutRecords,
	// ListShards, GetShardIterator, GetRecords) may take before it is
	// abandoned and treated as a transient failure. Zero means
	// DefaultRequestTimeout (10s).
	RequestTimeout time.Duration
	// AWS, when not nil, is the SDK configuration to build the client
	// from, instead of loading the default chain: set credentials, HTTP
	// client, retryer or APIOptions (middleware) there. Region and
	// Endpoint above still take precedence over its values.
	AWS *aws.Config
	// Credentials, when not nil, replaces the credentials of the default
	// chain (or of AWS), e.g. credentials.NewStaticCredentialsProvider.
	Credentials aws.CredentialsProvider
	// Client, when not nil, is used instead of a client built from the
	// fields above, e.g. a fake in unit tests. Region is then Region, else
	// DefaultRegion.
	Client API
	// Leases, when not nil, makes consumer processes of a stream share its
	// shards through leases in the database (table logpipe_kinesis_lease)
	// instead of each reading every shard: see LeaseConfig. Nil (the
	// default) reads every shard, and a second process is fenced off or
	// stands by.
	Leases *LeaseConfig
}

// API is the part of the Kinesis client this package uses;
// *kinesis.Client implements it.
type API interface {
	PutRecord(ctx context.Context, in *kinesis.PutRecordInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// withDefaults returns c with every zero field set to its default. It is the
// one place where defaults are applied.
func (c Config) withDefaults() Config {
	if c.FetchLimit == 0 {
		c.FetchLimit = DefaultFetchLimit
	}
	if c.ShardIteratorType == "" {
		c.ShardIteratorType = DefaultShardIteratorType
	}
	if c.SeqNumCacheSize == 0 {
		c.SeqNumCacheSize = DefaultSeqNumCacheSize
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.ShardSyncInterval == 0 {
		c.ShardSyncInterval = DefaultShardSyncInterval
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// Validate reports every problem with c at once, each saying what to fix.
// Zero values are valid: they mean the defaults.
func (c Config) Validate() error {
	var errs []error
	if c.FetchLimit < 0 || c.FetchLimit > MaxFetchLimit {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: FetchLimit %d is out of range: use 1 to %d, or 0 for the default %d", c.FetchLimit, MaxFetchLimit, DefaultFetchLimit))
	}
	switch c.ShardIteratorType {
	case "", types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest:
	default:
		errs = append(errs, fmt.Errorf("logpipe/kinesis: ShardIteratorType %q is not supported: use %q or %q", c.ShardIteratorType, types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest))
	}
	if c.SeqNumCacheSize < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: SeqNumCacheSize %d is negative: use a positive size, or 0 for the default %d", c.SeqNumCacheSize, DefaultSeqNumCacheSize))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: PollInterval %s is negative: use a positive duration, or 0 for the default %s", c.PollInterval, DefaultPollInterval))
	}
	if c.ShardSyncInterval < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: ShardSyncInterval %s is negative: use a positive duration, or 0 for the default %s", c.ShardSyncInterval, DefaultShardSyncInterval))
	}
	if c.SendTimeout < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: SendTimeout %s is negative: use a positive duration, or 0 for the default %s", c.SendTimeout, DefaultSendTimeout))
	}
	if c.MaxSendRetries < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: MaxSendRetries %d is negative: use 0 (the default, no retry of a write that may have been stored) or a positive count", c.MaxSendRetries))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: RequestTimeout %s is negative: use a positive duration, or 0 for the default %s", c.RequestTimeout, DefaultRequestTimeout))
	}
	if c.Leases != nil {
		errs = append(errs, c.Leases.validate()...)
	}
	if len(c.Region) > 20 {
		errs = append(errs, fmt.Errorf("logpipe/kinesis: Region %q is longer than 20 characters (the width of logpipe_kinesisoffset.region): use an AWS region name such as us-east-1", c.Region))
	}
	return errors.Join(errs...)
}

// client returns the Kinesis client to use and the resolved region.
func (c Config) client(ctx context.Context) (API, string, error) {
	if c.Client != nil {
		region := c.Region
		if region == "" {
			region = DefaultRegion
		}
		return c.Client, region, nil
	}
	var awsCfg aws.Config
	if c.AWS != nil {
		awsCfg = c.AWS.Copy()
	} else {
		loaded, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("logpipe/kinesis: load AWS configuration: %w", err)
		}
		awsCfg = loaded
	}
	if c.Credentials != nil {
		awsCfg.Credentials = c.Credentials
	}
	region := c.Region
	if region == "" {
		region = awsCfg.Region
	}
	if region == "" {
		region = DefaultRegion
	}
	awsCfg.Region = region
	cl := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return cl, region, nil
}
