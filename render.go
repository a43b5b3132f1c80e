package logpipe

import (
	"cmp"
	"fmt"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/format"
)

// Render returns the record a Producer for topic made with s would send for
// msg, byte for byte: the envelope in s.Format with s.ProducerID, and the
// key field's value as the key. It needs no Backend: package outbox stores
// the record in the application's transaction and sends it later.
func Render(s Settings, topic string, msg Message) (backend.Message, error) {
	if topic == "" {
		return backend.Message{}, fmt.Errorf("logpipe: Render needs a topic")
	}
	codec, err := format.Lookup(cmp.Or(s.Format, format.Default))
	if err != nil {
		return backend.Message{}, fmt.Errorf("logpipe: Settings.Format: %w", err)
	}
	p := Producer{topic: topic, codec: codec, producer: s.ProducerID}
	return p.render(msg)
}
