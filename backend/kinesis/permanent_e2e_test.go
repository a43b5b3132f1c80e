package kinesis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// denyGetRecords is an SDK middleware that fails every GetRecords call with
// AccessDeniedException, as when the consumer's role lacks the permission.
func denyGetRecords(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("logpipeTestDeny",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*awskinesis.GetRecordsInput); ok {
				return middleware.InitializeOutput{}, middleware.Metadata{}, &types.AccessDeniedException{Message: aws.String("injected by the test")}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// Review finding 4: Run with an idle timeout returns a permanent error
// instead of waiting forever for the stream to become idle.
func TestRunReturnsPermanentErrors(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	s := e2eSettings(t, db)
	stream := e2eStream(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	denied := s
	kcfg := s.Backend.(*kinesis.Backend).Config()
	kcfg.AWS = &aws.Config{APIOptions: []func(*middleware.Stack) error{denyGetRecords}}
	denied.Backend = kinesis.New(kcfg)
	c, err := logpipe.NewConsumer(denied, stream, logpipe.WithIdleTimeout(500*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Register(&AccountV1{}))
	err = c.Run(ctx)
	var accessDenied *types.AccessDeniedException
	require.ErrorAs(t, err, &accessDenied)
	require.NoError(t, ctx.Err())

	// A deleted stream: a *MissingStreamError naming stream and region.
	admin := e2eAdmin(t)
	_, err = admin.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: aws.String(stream)})
	require.NoError(t, err)
	for {
		_, err := admin.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			break
		}
		require.NoError(t, ctx.Err(), "stream not deleted in time")
		time.Sleep(50 * time.Millisecond)
	}
	c, err = logpipe.NewConsumer(s, stream, logpipe.WithIdleTimeout(500*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Register(&AccountV1{}))
	err = c.Run(ctx)
	var missing *kinesis.MissingStreamError
	require.ErrorAs(t, err, &missing)
	require.Equal(t, stream, missing.Stream)
	require.Equal(t, "eu-west-1", missing.Region)
	require.NoError(t, ctx.Err())
}
