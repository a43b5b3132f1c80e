package interop

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// firstPart is how many records the first consumer applies before it stops.
const firstPart = 15

// Django's consumer applies the first part of a topic and stops; the Go
// consumer resumes from the original's own logpipe_kafkaoffset rows and
// applies the rest: no gap, no duplicate.
func TestKafkaHandoverDjangoToGo(t *testing.T) {
	t.Parallel()
	e := newKafkaEnv(t)
	topic := e.topic(t, "handover-dj2go", 3)
	recs := e.django.Produce(t, ProduceArgs{Topic: topic, Count: 40, Mix: "1,2", Seed: rand.IntN(1 << 30)})

	djApplied := e.django.Consume(t, ConsumeArgs{Topic: topic, Limit: firstPart})
	require.Len(t, djApplied, firstPart)
	assert.Equal(t, int64(firstPart), sumOffsets(e.kafkaOffsets(t, topic)), "Django's rows hold the next offset of each partition")

	require.NoError(t, e.consumeGo(context.Background(), t, topic))

	want := expectFromDjango(t, recs)
	goApplied := e.goApplied(t)
	assert.Len(t, goApplied, len(recs)-firstPart)
	assertOnce(t, want, goApplied, djApplied)
	assertGoRows(t, want, e.people(t))
	assert.Equal(t, wantKafkaEnd(t, recs), e.kafkaOffsets(t, topic))
}

// The reverse: the Go consumer is stopped in the middle of the topic, and
// the original's consumer resumes from the rows Go wrote.
func TestKafkaHandoverGoToDjango(t *testing.T) {
	t.Parallel()
	e := newKafkaEnv(t)
	topic := e.topic(t, "handover-go2dj", 3)
	msgs := goPeople(rand.IntN(1<<30), 0, 40)
	positions := sendGo(t, e.settings, topic, msgs)

	runGoUntil(t, e, topic, firstPart, logpipe.WithTransactionSize(4))
	goApplied := e.goApplied(t)
	require.NotEmpty(t, goApplied)
	require.Less(t, len(goApplied), len(msgs))
	assert.Equal(t, int64(len(goApplied)), sumOffsets(e.kafkaOffsets(t, topic)), "Go's rows hold the next offset of each partition")

	djApplied := e.django.Consume(t, ConsumeArgs{Topic: topic})

	want := expectFromGo(msgs)
	assert.Len(t, djApplied, len(msgs)-len(goApplied))
	assertOnce(t, want, goApplied, djApplied)
	assertDjangoRows(t, want, e.django.People(t))
	end := map[int32]int64{}
	for _, p := range positions {
		end[p.Partition] = max(end[p.Partition], p.Offset+1)
	}
	assert.Equal(t, end, e.kafkaOffsets(t, topic))
}

// runGoUntil runs a Go consumer of topic that is cancelled once it has
// applied n records (the transaction open when it is cancelled may be rolled
// back: what counts is what the applied log and the offsets hold).
func runGoUntil(t *testing.T, e *env, topic string, n int, opts ...logpipe.ConsumerOption) {
	t.Helper()
	ctx, cancel := stopAfter(context.Background(), n)
	defer cancel()
	err := e.consumeGoWith(ctx, t, topic, nil, opts...)
	if err != nil && !errors.Is(err, context.Canceled) {
		require.NoError(t, err)
	}
	require.Error(t, ctx.Err(), "the consumer went idle before applying %d records", n)
}

func sumOffsets(m map[int32]int64) int64 {
	var s int64
	for _, o := range m {
		s += o
	}
	return s
}

// The same handover with offsets kept by the broker for a consumer group
// (the original's KafkaOffsetStore, logpipe.OffsetsInBroker): Django applies
// the first part, Go resumes from the group's committed offsets to the end,
// then Django resumes after Go for records sent later.
func TestKafkaHandoverBrokerOffsets(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	group := testenv.Name("interop-group")
	e := newEnv(t, DjangoConfig{Backend: "kafka", Brokers: brokers, KafkaGroup: group}, logpipe.Settings{
		Backend: kafka.New(kafka.Config{Brokers: brokers, GroupID: group}),
		Offsets: logpipe.OffsetsInBroker,
	})
	topic := e.topic(t, "handover-group", 3)
	seed := rand.IntN(1 << 30)
	recs := e.django.Produce(t, ProduceArgs{Topic: topic, Count: 30, Mix: "1,2", Seed: seed})

	djApplied := e.django.Consume(t, ConsumeArgs{Topic: topic, Limit: firstPart})
	require.Len(t, djApplied, firstPart)
	require.NoError(t, e.consumeGo(context.Background(), t, topic))
	goApplied := e.goApplied(t)
	assert.Len(t, goApplied, len(recs)-firstPart)

	more := e.django.Produce(t, ProduceArgs{Topic: topic, Count: 10, Start: 30, Mix: "1,2", Seed: seed})
	djApplied = append(djApplied, e.django.Consume(t, ConsumeArgs{Topic: topic})...)

	all := append(recs, more...)
	want := expectFromDjango(t, all)
	assertOnce(t, want, goApplied, djApplied)
	assertGoRows(t, want, e.people(t))
	assert.Empty(t, e.kafkaOffsets(t, topic), "offsets are kept by the broker, not in the table")
}
