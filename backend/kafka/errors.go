package kafka

import (
	"errors"
	"fmt"
	"strings"
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

// Error names the topic and the brokers.
func (e *MissingTopicError) Error() string {
	return fmt.Sprintf("logpipe/kafka: topic %q does not exist on brokers %s: create it (kafka-topics.sh --create) before producing or consuming",
		e.Topic, strings.Join(e.Brokers, ","))
}

// ErrClosed is returned by a Producer or Consumer used after Close.
var ErrClosed = errors.New("logpipe/kafka: closed")
