package logpipeotel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/plugin/logpipeotel"
)

type pingV1 struct {
	logpipe.NoKey
	N int `json:"n"`
}

func (*pingV1) MessageType() string { return "ping" }
func (*pingV1) Version() int        { return 1 }

// Each send is a producer span, whose W3C trace context travels in the
// record's headers (traceparent).
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tel := logpipeotel.New(logpipeotel.WithTracerProvider(tp), logpipeotel.WithSystem(logpipeotel.SystemKafka))

	broker := memory.NewBroker(memory.WithAutoCreateTopics(1))
	settings := logpipe.Settings{Backend: broker, Hooks: []logpipe.Hook{tel}}
	producer, err := logpipe.NewProducer(context.Background(), settings, "pings")
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	if _, err := producer.Send(context.Background(), &pingV1{N: 1}); err != nil {
		panic(err)
	}

	span := spans.Ended()[0]
	header := broker.Records("pings", 0)[0].Headers[0]
	fmt.Println(span.Name(), span.SpanKind())
	fmt.Println(header.Key, string(header.Value) == fmt.Sprintf("00-%s-%s-01", span.SpanContext().TraceID(), span.SpanContext().SpanID()))
	// Output:
	// publish pings producer
	// traceparent true
}
