package logpipeotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/plugin/logpipeotel"
)

// tracedPerson runs Save under the context logpipe gives it, starting a
// span there as an application's database instrumentation would.
type tracedPerson struct {
	people.PersonV1
}

var saveTracer trace.Tracer

func (p *tracedPerson) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	_, span := saveTracer.Start(ctx, "save person")
	defer span.End()
	return p.PersonV1.Save(ctx, tx, instance)
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

func spansNamed(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// A trace started in a producer continues in the consumer through the
// record's headers on Kafka: the process span is the publish span's child
// and links to it, and what Save starts nests in the process span.
func TestTraceCrossesKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.KafkaTopic(t, 1)
	db := testenv.Postgres(t)
	require.NoError(t, db.AutoMigrate(&people.Person{}))

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	saveTracer = tp.Tracer("app")
	tel := logpipeotel.New(logpipeotel.WithTracerProvider(tp), logpipeotel.WithSystem(logpipeotel.SystemKafka))
	settings := logpipe.Settings{
		Backend: kafka.New(kafka.Config{Brokers: brokers, PollInterval: 200 * time.Millisecond}),
		DB:      db, Hooks: []logpipe.Hook{tel},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	p, err := logpipe.NewProducer(ctx, settings, topic)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	reqCtx, request := tp.Tracer("app").Start(ctx, "handle request")
	pos, err := p.Send(reqCtx, &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: "Schmoe"})
	require.NoError(t, err)
	request.End()

	c, err := logpipe.NewConsumer(settings, topic, logpipe.WithLimit(1))
	require.NoError(t, err)
	require.NoError(t, c.Register(&tracedPerson{}))
	require.NoError(t, c.Run(ctx))

	spans := rec.Ended()
	publish := spansNamed(spans, "publish "+topic)
	process := spansNamed(spans, "process "+topic)
	save := spansNamed(spans, "save person")
	require.Len(t, publish, 1)
	require.Len(t, process, 1)
	require.Len(t, save, 1)

	pub, proc := publish[0], process[0]
	assert.Equal(t, request.SpanContext().SpanID(), pub.Parent().SpanID(), "publish is a child of the request")
	assert.Equal(t, trace.SpanKindProducer, pub.SpanKind())
	assert.Equal(t, trace.SpanKindConsumer, proc.SpanKind())
	assert.Equal(t, pub.SpanContext().TraceID(), proc.SpanContext().TraceID(), "the consumer's span is in the producer's trace")
	assert.Equal(t, pub.SpanContext().SpanID(), proc.Parent().SpanID(), "its parent is the publish span")
	assert.True(t, proc.Parent().IsRemote())
	require.Len(t, proc.Links(), 1)
	assert.Equal(t, pub.SpanContext().SpanID(), proc.Links()[0].SpanContext.SpanID(), "and it links to it")
	assert.Equal(t, proc.SpanContext().SpanID(), save[0].Parent().SpanID(), "Save runs under the process span")

	pa, ca := attrs(pub), attrs(proc)
	assert.Equal(t, "kafka", pa["messaging.system"].AsString())
	assert.Equal(t, topic, pa["messaging.destination.name"].AsString())
	assert.Equal(t, "send", pa["messaging.operation.type"].AsString())
	assert.Equal(t, "publish", pa["messaging.operation.name"].AsString())
	assert.Equal(t, pos.Offset, pa["messaging.kafka.offset"].AsInt64())
	assert.Equal(t, "kafka", ca["messaging.system"].AsString())
	assert.Equal(t, "process", ca["messaging.operation.type"].AsString())
	assert.Equal(t, "0", ca["messaging.destination.partition.id"].AsString())
	assert.Equal(t, "person", ca["logpipe.message.type"].AsString())
	assert.Equal(t, int64(1), ca["logpipe.message.version"].AsInt64())
}

// A record without a trace context (sent by django-logpipe, or read from
// Kinesis, which has no headers) starts a new trace: no parent, no link.
func TestRecordWithoutTraceContextStartsANewTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	saveTracer = tp.Tracer("app")
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&people.Person{}))
	broker := memory.NewBroker(memory.WithAutoCreateTopics(1))
	ctx := context.Background()
	// Sent without the hook, as django-logpipe sends: no headers.
	p, err := logpipe.NewProducer(ctx, logpipe.Settings{Backend: broker}, "people")
	require.NoError(t, err)
	_, err = p.Send(ctx, &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: "Schmoe"})
	require.NoError(t, err)

	tel := logpipeotel.New(logpipeotel.WithTracerProvider(tp))
	c, err := logpipe.NewConsumer(logpipe.Settings{Backend: broker, DB: db, Hooks: []logpipe.Hook{tel}}, "people", logpipe.WithLimit(1))
	require.NoError(t, err)
	require.NoError(t, c.Register(&tracedPerson{}))
	require.NoError(t, c.Run(ctx))

	process := spansNamed(rec.Ended(), "process people")
	require.Len(t, process, 1)
	assert.False(t, process[0].Parent().IsValid(), "a root span")
	assert.Empty(t, process[0].Links())
}
