package logpipeotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/plugin/logpipeotel"
)

// On Kinesis, which has no headers, the producer's span is recorded but no
// trace context travels: the process span starts a new trace, with no
// parent and no link. Consumer.Lag reports each shard's MillisBehindLatest
// and no record count.
func TestKinesisCarriesNoTraceContext(t *testing.T) {
	endpoint := testenv.KinesisEndpoint(t)
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDLOGPIPETEST", "logpipe-test-secret", "")}
	admin := awskinesis.NewFromConfig(awsCfg, func(o *awskinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream := testenv.Name("lp-otel")
	_, err := admin.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(2)})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: aws.String(stream), EnforceConsumerDeletion: aws.Bool(true)})
	})
	for {
		out, err := admin.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		require.NoError(t, ctx.Err(), "stream not active (last error: %v)", err)
		time.Sleep(50 * time.Millisecond)
	}

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	saveTracer = tp.Tracer("app")
	db := testenv.Postgres(t)
	require.NoError(t, db.AutoMigrate(&people.Person{}))
	settings := logpipe.Settings{
		Backend: kinesis.New(kinesis.Config{Endpoint: endpoint, AWS: &awsCfg, PollInterval: 200 * time.Millisecond}),
		DB:      db,
		Hooks:   []logpipe.Hook{logpipeotel.New(logpipeotel.WithTracerProvider(tp), logpipeotel.WithSystem(logpipeotel.SystemKinesis))},
	}
	p, err := logpipe.NewProducer(ctx, settings, stream)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	_, err = p.Send(ctx, &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: "Schmoe"})
	require.NoError(t, err)

	c, err := logpipe.NewConsumer(settings, stream, logpipe.WithIdleTimeout(time.Second))
	require.NoError(t, err)
	require.NoError(t, c.Register(&tracedPerson{}))
	require.NoError(t, c.Run(ctx))

	spans := rec.Ended()
	publish := spansNamed(spans, "publish "+stream)
	process := spansNamed(spans, "process "+stream)
	require.Len(t, publish, 1)
	require.Len(t, process, 1)
	assert.Equal(t, "aws_kinesis", attrs(publish[0])["messaging.system"].AsString())
	assert.NotEmpty(t, attrs(publish[0])["messaging.destination.partition.id"].AsString(), "the shard")
	assert.False(t, process[0].Parent().IsValid(), "no parent: Kinesis carries no headers")
	assert.Empty(t, process[0].Links())
	assert.NotEqual(t, publish[0].SpanContext().TraceID(), process[0].SpanContext().TraceID())

	lag := c.Lag()
	require.Len(t, lag, 2, "one entry per shard")
	for _, l := range lag {
		assert.NotEmpty(t, l.Shard)
		assert.Equal(t, int64(-1), l.Records, "Kinesis counts no records")
		assert.Equal(t, time.Duration(0), l.Behind, "read to the tip")
	}
}
