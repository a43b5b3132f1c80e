package kinesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// noSDKRetries turns the SDK's own retries off for one call: this package
// retries by itself, without blocking a consumer on one shard and without
// the SDK's retry quota, which gives up after a burst of throttling.
func noSDKRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// isThrottle reports whether err says a limit was exceeded
// (ProvisionedThroughputExceededException, LimitExceededException, ...).
func isThrottle(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// isTransient reports whether err may go away when the call is repeated:
// throttling, a server error, a broken connection, a timeout.
func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if isThrottle(err) {
		return true
	}
	var kms *types.KMSThrottlingException
	if errors.As(err, &kms) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// backoff is an exponential delay with full jitter between min and max.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

// next returns the delay before the next attempt and doubles the next one.
func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	}
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	// Between half and all of d, so that many clients spread out.
	return d/2 + rand.N(d/2+1)
}

// reset starts the delays from min again.
func (b *backoff) reset() { b.cur = 0 }
