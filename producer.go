package logpipe

import (
	"context"
	"fmt"
	"sync"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/format"
)

// Producer sends messages to one topic (Kafka) or stream (Kinesis). It is
// safe for concurrent use. Create it with NewProducer and Close it when done.
type Producer struct {
	topic    string
	codec    format.Codec
	producer string
	backend  backend.Producer
	obs      *producerObs // nil without hooks (observe.go)
	close    sync.Once
	closeErr error
}

// NewProducer returns a producer for topic with the backend, format and
// producer id of s. It opens the backend's producer (Kafka: no connection is
// made until the first send; Kinesis: the AWS configuration is loaded, which
// ctx bounds).
func NewProducer(ctx context.Context, s Settings, topic string) (*Producer, error) {
	s = s.withDefaults()
	if err := s.validate(false); err != nil {
		return nil, err
	}
	if topic == "" {
		return nil, fmt.Errorf("logpipe: NewProducer needs a topic")
	}
	codec, _ := format.Lookup(s.Format) // validated above
	bp, err := openProducer(ctx, s)
	if err != nil {
		return nil, err
	}
	return &Producer{topic: topic, codec: codec, producer: s.ProducerID, backend: bp, obs: newProducerObs(s.Hooks)}, nil
}

// Topic returns the topic or stream the producer writes to.
func (p *Producer) Topic() string { return p.topic }

// Send renders msg in the producer's format, with its key field's value as
// the record key, and returns once the broker has acknowledged the record,
// with where it went.
//
// Its error says what became of the record: it matches (errors.Is)
// backend.ErrNotWritten when the record is certainly not on the topic (the
// broker refused it, it was never sent, it could not be rendered), so that
// sending it again cannot duplicate it; otherwise the record may have been
// written (backend.ErrMaybeWritten: a timeout or a connection lost after the
// request went out), and sending it again may write it twice.
// backend.OutcomeOf reads it. Refusals are retried by the backend until its
// SendTimeout; unknown outcomes only MaxSendRetries times (see the
// backend's Config).
func (p *Producer) Send(ctx context.Context, msg Message) (Position, error) {
	m, err := p.render(msg)
	if err != nil {
		return Position{}, err
	}
	if p.obs != nil {
		return p.sendObserved(ctx, msg, m)
	}
	pos, err := p.backend.Send(ctx, m)
	if err != nil {
		return pos, fmt.Errorf("logpipe: send %s version %d (key %q) to %s: %w", msg.MessageType(), msg.Version(), m.Key, p.topic, err)
	}
	return pos, nil
}

// SendBatch sends several messages at once, through the backend's batched
// path when it has one (Kafka, Kinesis), which is much faster than one Send
// each. Messages with the same key keep their order. The positions are in
// the order of msgs.
//
// On error, the positions of the messages written are filled in (a zero
// Position for the others), and the error wraps a *backend.BatchError
// (errors.As) that says, for each message by its index in msgs, whether it
// was written, not written (backend.ErrNotWritten: resending it cannot
// duplicate it) or may have been written (backend.ErrMaybeWritten: resending
// it may write it twice). A message that cannot be rendered fails the
// whole batch before anything is sent: every message is then not written.
func (p *Producer) SendBatch(ctx context.Context, msgs []Message) ([]Position, error) {
	batch := make([]backend.Message, len(msgs))
	for i, msg := range msgs {
		m, err := p.render(msg)
		if err != nil {
			return nil, fmt.Errorf("logpipe: batch message %d: %w", i, backend.AsBatchError(backend.MarkNotWritten(err), len(msgs), nil))
		}
		batch[i] = m
	}
	if p.obs != nil {
		return p.sendBatchObserved(ctx, msgs, batch)
	}
	return p.sendBatch(ctx, batch)
}

// sendBatch sends rendered messages.
func (p *Producer) sendBatch(ctx context.Context, batch []backend.Message) ([]Position, error) {
	var (
		out []Position
		err error
	)
	if bp, ok := p.backend.(backend.BatchProducer); ok {
		out, err = bp.SendBatch(ctx, batch)
	} else {
		out, err = sendEach(ctx, p.backend, batch)
	}
	if err != nil {
		return out, fmt.Errorf("logpipe: send batch of %d to %s: %w", len(batch), p.topic, backend.AsBatchError(err, len(batch), out))
	}
	return out, nil
}

// sendEach sends batch one record at a time, for a backend without a
// batched path, stopping at the first failure: the records after it are
// not written.
func sendEach(ctx context.Context, bp backend.Producer, batch []backend.Message) ([]Position, error) {
	out := make([]Position, len(batch))
	for i, m := range batch {
		pos, err := bp.Send(ctx, m)
		if err != nil {
			errs := make([]error, len(batch))
			errs[i] = err
			for j := i + 1; j < len(batch); j++ {
				errs[j] = backend.MarkNotWritten(fmt.Errorf("logpipe: message %d not sent, because message %d failed: %v", j, i, err))
			}
			return out, backend.NewBatchError(out, errs)
		}
		out[i] = pos
	}
	return out, nil
}

// render turns msg into a record: the envelope in the producer's format,
// and the key field's string form as the key.
func (p *Producer) render(msg Message) (backend.Message, error) {
	key, err := recordKey(msg)
	if err != nil {
		return backend.Message{}, err
	}
	body, err := format.Marshal(msg)
	if err != nil {
		return backend.Message{}, fmt.Errorf("logpipe: render %s: %w", typeName(msg), err)
	}
	env := format.Envelope{Type: msg.MessageType(), Version: msg.Version(), Message: body, Producer: p.producer}
	value, err := format.Render(p.codec, &env)
	if err != nil {
		return backend.Message{}, err
	}
	return backend.Message{Topic: p.topic, Key: key, Value: value}, nil
}

// Close flushes and closes the backend's client. It is idempotent: later
// calls return the first call's result.
func (p *Producer) Close() error {
	p.close.Do(func() { p.closeErr = p.backend.Close() })
	return p.closeErr
}
