// Package logpipeotel traces and measures logpipe with OpenTelemetry,
// following its messaging semantic conventions, as franz-go's plugin/kotel
// does for kgo. Nothing in logpipe imports this package: a program that
// does not use it does not link OpenTelemetry.
//
//	tel := logpipeotel.New(logpipeotel.WithSystem(logpipeotel.SystemKafka))
//	settings.Hooks = append(settings.Hooks, tel) // logpipe.Settings
//
// Traces. Each Send is a producer span "publish <topic>"; the span's W3C
// trace context (traceparent, tracestate) is added to the record's headers.
// Each record a consumer applies is a consumer span "process <topic>",
// started before decoding and ended once its transaction committed (or
// rolled back); LookupInstance and Save run under it, so that the
// application's own spans nest in it. When the record carries a trace
// context, the process span is its child and links to it: the consumer's
// work shows in the producer's trace.
//
// Headers travel on Kafka (and the in-memory broker). django-logpipe
// ignores them, so a Django consumer of the same topic is unaffected, and a
// record sent by Django has none: its process span starts a new trace.
// Kinesis has no headers: nothing is carried, and on Kinesis every process
// span starts a new trace, with no parent and no link.
//
// Attributes: messaging.system (kafka, aws_kinesis), messaging.destination.name
// (the topic or stream), messaging.operation.type (send, process),
// messaging.operation.name (publish, process),
// messaging.destination.partition.id (the partition or shard),
// messaging.kafka.message.key, messaging.kafka.offset,
// messaging.message.body.size, logpipe.message.type,
// logpipe.message.version; error.type on failure, and logpipe.skip.reason
// for a record skipped.
//
// Metrics: messaging.client.operation.duration (s, sends),
// messaging.client.sent.messages, messaging.client.consumed.messages,
// messaging.process.duration (s, decode, LookupInstance and Save),
// logpipe.consumer.lag ({message}, per partition, Kafka) and
// logpipe.consumer.lag.duration (s, per shard, Kinesis).
package logpipeotel

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/logpipe-go/logpipe"
)

// The values of messaging.system.
const (
	SystemKafka   = "kafka"
	SystemKinesis = "aws_kinesis"
)

const instrumentation = "github.com/logpipe-go/logpipe/plugin/logpipeotel"

// Telemetry is the hook: it implements logpipe's hook interfaces. It is
// safe for concurrent use.
type Telemetry struct {
	system     attribute.KeyValue
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator

	sendDuration metric.Float64Histogram
	sent         metric.Int64Counter
	consumed     metric.Int64Counter
	process      metric.Float64Histogram
	lag          metric.Int64Gauge
	lagDuration  metric.Float64Gauge
}

var (
	_ logpipe.HookBeforeSend    = (*Telemetry)(nil)
	_ logpipe.HookRecordSent    = (*Telemetry)(nil)
	_ logpipe.HookBeforeApply   = (*Telemetry)(nil)
	_ logpipe.HookRecordApplied = (*Telemetry)(nil)
	_ logpipe.HookRecordSkipped = (*Telemetry)(nil)
	_ logpipe.HookApplyFailed   = (*Telemetry)(nil)
	_ logpipe.HookFetch         = (*Telemetry)(nil)
)

type config struct {
	system     string
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	propagator propagation.TextMapPropagator
}

// Option configures New.
type Option func(*config)

// WithSystem sets messaging.system: SystemKafka (the default) or
// SystemKinesis.
func WithSystem(system string) Option { return func(c *config) { c.system = system } }

// WithTracerProvider sets where spans go. Default otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets where metrics go. Default otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithPropagator sets how the trace context is written to and read from
// record headers. Default propagation.TraceContext{} (W3C traceparent and
// tracestate), whatever the global propagator is.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

// New returns the hook. Instruments that the meter provider fails to
// create are replaced by no-op ones (OpenTelemetry reports the error
// through otel.Handle).
func New(opts ...Option) *Telemetry {
	cfg := config{system: SystemKafka, propagator: propagation.TraceContext{}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	meter := cfg.mp.Meter(instrumentation)
	t := &Telemetry{
		system:     semconv.MessagingSystemKey.String(cfg.system),
		tracer:     cfg.tp.Tracer(instrumentation),
		propagator: cfg.propagator,
	}
	var err error
	t.sendDuration, err = meter.Float64Histogram("messaging.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of sends, until the broker acknowledged."))
	otel.Handle(err)
	t.sent, err = meter.Int64Counter("messaging.client.sent.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Messages the broker acknowledged."))
	otel.Handle(err)
	t.consumed, err = meter.Int64Counter("messaging.client.consumed.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Messages fetched by consumers."))
	otel.Handle(err)
	t.process, err = meter.Float64Histogram("messaging.process.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of decoding a record and running LookupInstance and Save."))
	otel.Handle(err)
	t.lag, err = meter.Int64Gauge("logpipe.consumer.lag", metric.WithUnit("{message}"),
		metric.WithDescription("Records written to a partition and not applied yet."))
	otel.Handle(err)
	t.lagDuration, err = meter.Float64Gauge("logpipe.consumer.lag.duration", metric.WithUnit("s"),
		metric.WithDescription("How far a Kinesis shard's last read is behind its tip (MillisBehindLatest)."))
	otel.Handle(err)
	return t
}

// headerCarrier reads and writes a trace context in record headers.
type headerCarrier struct{ h *[]logpipe.Header }

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.h {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.h {
		if h.Key == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, logpipe.Header{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	out := make([]string, len(*c.h))
	for i, h := range *c.h {
		out[i] = h.Key
	}
	return out
}

// OnBeforeSend starts the producer span and writes its context to the
// record's headers. It implements logpipe.HookBeforeSend.
func (t *Telemetry) OnBeforeSend(ctx context.Context, r *logpipe.OutgoingRecord) context.Context {
	attrs := []attribute.KeyValue{
		t.system,
		semconv.MessagingDestinationName(r.Topic),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("publish"),
		attribute.String("logpipe.message.type", r.Type),
		attribute.Int("logpipe.message.version", r.Version),
	}
	if len(r.Key) > 0 && t.system.Value.AsString() == SystemKafka {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(r.Key)))
	}
	ctx, _ = t.tracer.Start(ctx, "publish "+r.Topic, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	t.propagator.Inject(ctx, headerCarrier{&r.Headers})
	return ctx
}

// OnRecordSent ends the producer span and records the send. It implements
// logpipe.HookRecordSent.
func (t *Telemetry) OnRecordSent(ctx context.Context, e logpipe.SendEvent) {
	attrs := []attribute.KeyValue{t.system, semconv.MessagingDestinationName(e.Topic), semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("publish")}
	span := trace.SpanFromContext(ctx)
	if e.Err != nil {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
		attrs = append(attrs, semconv.ErrorTypeOther)
	} else {
		span.SetAttributes(partitionAttrs(e.Position)...)
		span.SetAttributes(semconv.MessagingMessageBodySize(e.Bytes))
		t.sent.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
	t.sendDuration.Record(ctx, e.Latency.Seconds(), metric.WithAttributes(attrs...))
	span.End()
}

func partitionAttrs(p logpipe.Position) []attribute.KeyValue {
	if p.Shard != "" {
		return []attribute.KeyValue{semconv.MessagingDestinationPartitionID(p.Shard), semconv.MessagingMessageID(p.SequenceNumber)}
	}
	return []attribute.KeyValue{semconv.MessagingDestinationPartitionID(strconv.Itoa(int(p.Partition))), semconv.MessagingKafkaOffset(int(p.Offset))}
}

// OnBeforeApply starts the consumer span, as a child of the trace context
// in the record's headers (when there is one) with a link to it. It
// implements logpipe.HookBeforeApply.
func (t *Telemetry) OnBeforeApply(ctx context.Context, rec *logpipe.FetchedRecord) context.Context {
	attrs := append([]attribute.KeyValue{
		t.system,
		semconv.MessagingDestinationName(rec.Topic),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingMessageBodySize(len(rec.Value)),
	}, partitionAttrs(rec.Position)...)
	if len(rec.Key) > 0 && rec.Shard == "" {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(rec.Key)))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
	headers := rec.Headers
	if sent := trace.SpanContextFromContext(t.propagator.Extract(context.Background(), headerCarrier{&headers})); sent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sent)
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sent}))
	}
	ctx, _ = t.tracer.Start(ctx, "process "+rec.Topic, opts...)
	return ctx
}

// OnRecordApplied ends the consumer span. It implements
// logpipe.HookRecordApplied.
func (t *Telemetry) OnRecordApplied(ctx context.Context, e logpipe.ApplyEvent) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("logpipe.message.type", e.Type), attribute.Int("logpipe.message.version", e.Version))
	t.process.Record(ctx, e.Latency.Seconds(), metric.WithAttributes(t.system, semconv.MessagingDestinationName(e.Topic),
		semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process"), attribute.String("logpipe.message.type", e.Type)))
	span.End()
}

// OnRecordSkipped ends the consumer span of a record skipped as bad, with
// its reason (the span is not an error: the consumer goes on). It
// implements logpipe.HookRecordSkipped.
func (t *Telemetry) OnRecordSkipped(ctx context.Context, e logpipe.SkipEvent) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("logpipe.skip.reason", e.Reason), attribute.String("logpipe.message.type", e.Type))
	span.AddEvent("skipped", trace.WithAttributes(attribute.String("exception.message", e.Err.Error())))
	span.End()
}

// OnApplyFailed ends the consumer span of a record rolled back, as an
// error. It implements logpipe.HookApplyFailed.
func (t *Telemetry) OnApplyFailed(ctx context.Context, e logpipe.FailEvent) {
	span := trace.SpanFromContext(ctx)
	span.RecordError(e.Err)
	span.SetStatus(codes.Error, e.Err.Error())
	span.SetAttributes(semconv.ErrorTypeOther)
	span.End()
}

// OnFetch counts the records fetched and records the lag gauges. It
// implements logpipe.HookFetch.
func (t *Telemetry) OnFetch(ctx context.Context, e logpipe.FetchEvent) {
	if e.Records > 0 {
		t.consumed.Add(ctx, int64(e.Records), metric.WithAttributes(t.system, semconv.MessagingDestinationName(e.Topic),
			semconv.MessagingOperationTypeReceive))
	}
	for _, l := range e.Lag {
		switch {
		case l.Shard != "":
			t.lagDuration.Record(ctx, l.Behind.Seconds(), metric.WithAttributes(t.system,
				semconv.MessagingDestinationName(l.Topic), semconv.MessagingDestinationPartitionID(l.Shard)))
		case l.Records >= 0:
			t.lag.Record(ctx, l.Records, metric.WithAttributes(t.system,
				semconv.MessagingDestinationName(l.Topic), semconv.MessagingDestinationPartitionID(strconv.Itoa(int(l.Partition)))))
		}
	}
}
