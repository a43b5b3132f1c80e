package kafka

import (
	"fmt"
	"strings"

	"github.com/logpipe-go/logpipe/backend"
)

// MissingTopicError is returned when a topic does not exist on the brokers:
// by Consumer.Fetch (on its first call, or when the topic disappears), and by
// Producer.Send and SendBatch. This backend never creates topics.
type MissingTopicError struct {
	// Topic is the topic that was asked for.
	Topic string
	// Brokers are the bootstrap brokers that were asked.
	Brokers []string
}

// Is reports whether target is backend.ErrMissingTopic, which every
// backend's missing-topic error matches.
func (e *MissingTopicError) Is(target error) bool { return target == backend.ErrMissingTopic }

// Error names the topic and the brokers.
func (e *MissingTopicError) Error() string {
	return fmt.Sprintf("logpipe/kafka: topic %q does not exist on brokers %s: create it (kafka-topics.sh --create) before producing or consuming",
		e.Topic, strings.Join(e.Brokers, ","))
}

// ErrClosed is returned by a Producer or Consumer used after Close. It is
// backend.ErrClosed, the one every backend returns.
var ErrClosed = backend.ErrClosed

// NotSentError is the error of a record that was not sent because a produce
// request to the same partition, queued before it, failed: the producer
// fails what is queued behind a failed request, so that sending the failed
// records again cannot put them after later records with the same key.
// Nothing of it was written; send it again after the records that failed
// before it.
type NotSentError struct {
	// Topic and Partition say where the record was to go.
	Topic     string
	Partition int32
	// Err is the error of the earlier request.
	Err error
}

// Error says that the record was not sent, and why the earlier one failed.
func (e *NotSentError) Error() string {
	return fmt.Sprintf("logpipe/kafka: record to %s/%d not sent, because an earlier record to that partition failed: %v",
		e.Topic, e.Partition, e.Err)
}

// Unwrap returns the earlier request's error.
func (e *NotSentError) Unwrap() error { return e.Err }
