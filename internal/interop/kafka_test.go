package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
)

// Django produces persons (versions 1 and 2) in each format; the Go consumer
// applies every one of them once, with every field equal, and commits the
// original's offsets table to the end of every partition.
func TestKafkaDjangoToGo(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "msgpack"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e := newKafkaEnv(t)
			topic := e.topic(t, "dj2go-"+format, 3)
			recs := e.django.Produce(t, ProduceArgs{Topic: topic, Count: 30, Mix: "1,2", Format: format, Seed: rand.IntN(1 << 30), ProducerID: "django-app"})

			require.NoError(t, e.consumeGo(context.Background(), t, topic))

			want := expectFromDjango(t, recs)
			assertGoRows(t, want, e.people(t))
			assertOnce(t, want, e.goApplied(t), nil)
			assert.Equal(t, wantKafkaEnd(t, recs), e.kafkaOffsets(t, topic))
		})
	}
}

// The Go producer sends persons (versions 1 and 2) in each format; the
// original's consumer applies every one of them once, with every field
// equal.
func TestKafkaGoToDjango(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "msgpack"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e := newKafkaEnv(t)
			topic := e.topic(t, "go2dj-"+format, 3)
			msgs := goPeople(rand.IntN(1<<30), 0, 30)
			sendGo(t, e.withFormat(format), topic, msgs)

			applied := e.django.Consume(t, ConsumeArgs{Topic: topic})

			want := expectFromGo(msgs)
			assertOnce(t, want, nil, applied)
			assertDjangoRows(t, want, e.django.People(t))
		})
	}
}

// The same keys sent by the original and by Go land on the same partitions.
func TestKafkaSamePartition(t *testing.T) {
	t.Parallel()
	e := newKafkaEnv(t)
	topic := e.topic(t, "partition", 12)
	seed := rand.IntN(1 << 30)
	const n = 60
	recs := e.django.Produce(t, ProduceArgs{Topic: topic, Count: n, Seed: seed})

	p, err := logpipe.NewProducer(context.Background(), e.settings, topic)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	used := map[int32]bool{}
	for i, rec := range recs {
		require.Equal(t, i, rec.Index)
		msg := fixture(i, seed).V1()
		require.Equal(t, rec.Key, msg.UUID.String(), "both sides send the same key")
		pos, err := p.Send(context.Background(), msg)
		require.NoError(t, err)
		djPart, err := rec.KafkaPartition()
		require.NoError(t, err)
		assert.Equal(t, djPart, pos.Partition, "partition of key %s", rec.Key)
		used[djPart] = true
	}
	assert.Greater(t, len(used), 6, "the keys should spread over the partitions, or the test proves little")
}

// A topic with versions 1 and 2 of "person", a type the Go consumer ignores
// and a type it does not know, all from Django: persons are applied, the
// rest is skipped and committed (as the original does).
func TestKafkaMixedTopic(t *testing.T) {
	t.Parallel()
	e := newKafkaEnv(t)
	topic := e.topic(t, "mixed", 2)
	recs := e.django.Produce(t, ProduceArgs{Topic: topic, Count: 24, Mix: "1,2,ignoredtype:1,strangertype:2", Seed: rand.IntN(1 << 30)})

	require.NoError(t, e.consumeGo(context.Background(), t, topic, "ignoredtype"))

	want := expectFromDjango(t, recs)
	require.Len(t, want, 12)
	for _, r := range recs {
		if r.Type == "person" {
			assert.Equal(t, []int{1, 2}[r.Index%4], r.Version, fmt.Sprint(r.Index))
		}
	}
	assertGoRows(t, want, e.people(t))
	assertOnce(t, want, e.goApplied(t), nil)
	assert.Equal(t, wantKafkaEnd(t, recs), e.kafkaOffsets(t, topic), "skipped records are committed too")
}

// With errors thrown, a type from Django that the Go consumer does not know
// stops it with a typed error naming the record, and is not committed.
func TestKafkaMixedTopicThrowErrors(t *testing.T) {
	t.Parallel()
	e := newKafkaEnv(t)
	topic := e.topic(t, "mixed-throw", 1)
	recs := e.django.Produce(t, ProduceArgs{Topic: topic, Count: 6, Mix: "1,2,strangertype:2", Seed: rand.IntN(1 << 30)})

	c, err := logpipe.NewConsumer(e.settings, topic, logpipe.WithIdleTimeout(idle), logpipe.WithThrowErrors())
	require.NoError(t, err)
	require.NoError(t, c.Register(&PersonV1{}, &PersonV2{}))
	err = c.Run(context.Background())
	var recErr *logpipe.RecordError
	require.ErrorAs(t, err, &recErr)
	assert.ErrorIs(t, err, logpipe.ErrUnknownType)
	assert.Equal(t, "strangertype", recErr.Type)
	assert.Equal(t, topic, recErr.Topic)
	assert.Equal(t, int64(2), recErr.Offset)
	assert.Equal(t, recs[2].Key, string(recErr.Key))

	assertOnce(t, expectFromDjango(t, recs[:2]), e.goApplied(t), nil)
	assert.Equal(t, map[int32]int64{0: 2}, e.kafkaOffsets(t, topic), "the failing record is not committed")
}

// goPeople returns persons start..start+n-1 of seed, alternately version 1
// and version 2 messages.
func goPeople(seed, start, n int) []any {
	msgs := make([]any, 0, n)
	for i := start; i < start+n; i++ {
		p := fixture(i, seed)
		if i%2 == 0 {
			msgs = append(msgs, p.V1())
		} else {
			msgs = append(msgs, &p)
		}
	}
	return msgs
}

// sendGo sends msgs with a Go producer.
func sendGo(t *testing.T, s logpipe.Settings, topic string, msgs []any) []logpipe.Position {
	t.Helper()
	p, err := logpipe.NewProducer(context.Background(), s, topic)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	var out []logpipe.Position
	for _, m := range msgs {
		pos, err := p.Send(context.Background(), m.(logpipe.Serializer))
		require.NoError(t, err)
		out = append(out, pos)
	}
	return out
}
