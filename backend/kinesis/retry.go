package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// noSDKRetries turns the SDK's own retries off for one call: this package
// retries by itself, without blocking a consumer on one shard and without
// the SDK's retry quota, which gives up after a burst of throttling. Every
// call of this package passes it.
func noSDKRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// timeoutError is a call abandoned after Config.RequestTimeout while the
// caller's context was still alive. It is transient (the next call may get
// an answer) but, for a write, the record may have been stored.
type timeoutError struct {
	after time.Duration
	err   error
}

// Error says how long the call waited.
func (e *timeoutError) Error() string {
	return fmt.Sprintf("no answer within %s: %v", e.after, e.err)
}

// Unwrap returns the call's error.
func (e *timeoutError) Unwrap() error { return e.err }

// withTimeout runs call with its own timeout d, so that a hung connection
// cannot block the caller for longer. An error caused by that timeout (and
// not by ctx) comes back as a *timeoutError.
func withTimeout[T any](ctx context.Context, d time.Duration, call func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	out, err := call(cctx)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		err = &timeoutError{after: d, err: err}
	}
	return out, err
}

// isThrottle reports whether err says a limit was exceeded
// (ProvisionedThroughputExceededException, LimitExceededException,
// KMSThrottlingException, ...): Kinesis refused the call and stored nothing.
func isThrottle(err error) bool {
	var kms *types.KMSThrottlingException
	if errors.As(err, &kms) {
		return true
	}
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// isTransient reports whether err may go away when the call is repeated:
// throttling, a server error (5xx, InternalFailure), a broken connection, a
// call that timed out. Any other error (access denied, invalid argument, a
// missing stream) will come back however often the call is repeated.
func isTransient(err error) bool {
	var te *timeoutError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if isThrottle(err) {
		return true
	}
	var internal *types.InternalFailureException
	if errors.As(err, &internal) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// notStored reports whether a failed write certainly stored nothing, so that
// sending it again cannot duplicate it: throttling, or a connection that
// could not be opened. Other transient failures (timeouts, resets, 5xx) may
// come after Kinesis stored the record.
func notStored(err error) bool {
	if isThrottle(err) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// mayBeStored reports whether a write that failed with err may have stored
// its records: Kinesis answered with a server error (5xx, InternalFailure,
// ServiceUnavailable), or gave no answer (a timeout, a reset connection, the
// context ending during the call). A refusal (throttling, a client error
// such as access denied or an invalid argument, a missing stream) and a
// connection that could not be opened stored nothing.
func mayBeStored(err error) bool {
	if notStored(err) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		var internal *types.InternalFailureException
		return ae.ErrorFault() == smithy.FaultServer || errors.As(err, &internal) || ae.ErrorCode() == "ServiceUnavailable"
	}
	return true
}
