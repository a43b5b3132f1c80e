package interop

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Django produces persons on a Kinesis stream in each format; the Go
// consumer applies each once and stores the last sequence number of every
// shard in logpipe_kinesisoffset.
func TestKinesisDjangoToGo(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "msgpack"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e := newKinesisEnv(t)
			stream := e.topic(t, "dj2go-"+format, 2)
			recs := e.django.Produce(t, ProduceArgs{Topic: stream, Count: 20, Mix: "1,2", Format: format, Seed: rand.IntN(1 << 30)})

			require.NoError(t, e.consumeGo(context.Background(), t, stream))

			want := expectFromDjango(t, recs)
			assertGoRows(t, want, e.people(t))
			assertOnce(t, want, e.goApplied(t), nil)
			assert.Equal(t, wantKinesisEnd(t, recs), e.kinesisOffsets(t, stream))
		})
	}
}

// The Go producer sends persons on a Kinesis stream in each format; the
// original's consumer applies each once.
func TestKinesisGoToDjango(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "msgpack"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e := newKinesisEnv(t)
			stream := e.topic(t, "go2dj-"+format, 2)
			msgs := goPeople(rand.IntN(1<<30), 0, 20)
			sendGo(t, e.withFormat(format), stream, msgs)

			applied := e.django.Consume(t, ConsumeArgs{Topic: stream})

			want := expectFromGo(msgs)
			assertOnce(t, want, nil, applied)
			assertDjangoRows(t, want, e.django.People(t))
		})
	}
}

// Handover on logpipe_kinesisoffset: Django applies the first part of a
// stream and stops, Go resumes after the original's stored sequence numbers.
func TestKinesisHandoverDjangoToGo(t *testing.T) {
	t.Parallel()
	e := newKinesisEnv(t)
	stream := e.topic(t, "handover-dj2go", 2)
	recs := e.django.Produce(t, ProduceArgs{Topic: stream, Count: 30, Mix: "1,2", Seed: rand.IntN(1 << 30)})

	djApplied := e.django.Consume(t, ConsumeArgs{Topic: stream, Limit: firstPart})
	require.Len(t, djApplied, firstPart)
	require.NotEmpty(t, e.kinesisOffsets(t, stream), "Django stored its positions")

	require.NoError(t, e.consumeGo(context.Background(), t, stream))

	want := expectFromDjango(t, recs)
	goApplied := e.goApplied(t)
	assert.Len(t, goApplied, len(recs)-firstPart)
	assertOnce(t, want, goApplied, djApplied)
	assertGoRows(t, want, e.people(t))
	assert.Equal(t, wantKinesisEnd(t, recs), e.kinesisOffsets(t, stream))
}

// The reverse on Kinesis: Go is stopped in the middle of the stream and the
// original resumes after the sequence numbers Go stored.
func TestKinesisHandoverGoToDjango(t *testing.T) {
	t.Parallel()
	e := newKinesisEnv(t)
	stream := e.topic(t, "handover-go2dj", 2)
	msgs := goPeople(rand.IntN(1<<30), 0, 30)
	positions := sendGo(t, e.settings, stream, msgs)

	runGoUntil(t, e, stream, firstPart)
	goApplied := e.goApplied(t)
	require.NotEmpty(t, goApplied)
	require.Less(t, len(goApplied), len(msgs))

	djApplied := e.django.Consume(t, ConsumeArgs{Topic: stream})

	want := expectFromGo(msgs)
	assert.Len(t, djApplied, len(msgs)-len(goApplied))
	assertOnce(t, want, goApplied, djApplied)
	assertDjangoRows(t, want, e.django.People(t))
	end := map[string]string{}
	for _, p := range positions {
		end[p.Shard] = p.SequenceNumber // in send order: the last one wins
	}
	assert.Equal(t, end, e.kinesisOffsets(t, stream))
}

// wantKinesisEnd returns the last sequence number sent to each shard.
func wantKinesisEnd(t *testing.T, recs []Produced) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range recs {
		shard, err := r.Shard()
		require.NoError(t, err)
		var seq string
		require.NoError(t, jsonUnmarshal(r.Offset, &seq))
		m[shard] = seq
	}
	return m
}
