package kinesis

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/logpipe-go/logpipe/backend"
)

// ErrSendTimeout is wrapped by the error of a Send or SendBatch that gave up
// after Config.SendTimeout, together with the last error Kinesis returned.
var ErrSendTimeout = errors.New("logpipe/kinesis: send timed out")

// MissingStreamError is returned (possibly wrapped) by NewConsumer, Fetch,
// Send and SendBatch when Kinesis answers that the stream does not exist in
// the region: it was never created, was deleted, or the region is wrong.
// Retrying does not help, so the consumer stops instead of waiting forever.
type MissingStreamError struct {
	// Stream is the stream name.
	Stream string
	// Region is the AWS region asked.
	Region string
	// Err is Kinesis' answer, a *types.ResourceNotFoundException.
	Err error
}

// Error names the stream and the region.
func (e *MissingStreamError) Error() string {
	return fmt.Sprintf("logpipe/kinesis: stream %q does not exist in region %s: %v", e.Stream, e.Region, e.Err)
}

// Unwrap returns Kinesis' answer.
func (e *MissingStreamError) Unwrap() error { return e.Err }

// Is reports whether target is backend.ErrMissingTopic, which every
// backend's missing-topic error matches.
func (e *MissingStreamError) Is(target error) bool { return target == backend.ErrMissingTopic }

// isNotFound reports whether err is Kinesis' ResourceNotFoundException.
func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
