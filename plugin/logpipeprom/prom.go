// Package logpipeprom exports logpipe's hooks as Prometheus metrics,
// through the official client (github.com/prometheus/client_golang), as
// franz-go's plugin/kprom does for kgo. Nothing in logpipe imports this
// package: a program that does not use it does not link the Prometheus
// client.
//
//	metrics := logpipeprom.New()
//	prometheus.MustRegister(metrics)                // or your own registry
//	settings.Hooks = append(settings.Hooks, metrics) // logpipe.Settings
//	http.Handle("/metrics", promhttp.Handler())
//
// One Metrics value may serve every producer and consumer of a program;
// topics are told apart by the topic label. The metrics, with the default
// namespace "logpipe":
//
//	logpipe_records_sent_total{topic,type}                counter
//	logpipe_send_errors_total{topic,type}                 counter
//	logpipe_sent_bytes_total{topic}                       counter (key, value and headers)
//	logpipe_send_duration_seconds{topic}                  histogram (until the broker acknowledged)
//	logpipe_send_retries_total{topic,safe}                counter (safe="true": nothing was written)
//	logpipe_records_fetched_total{topic}                  counter
//	logpipe_fetched_bytes_total{topic}                    counter
//	logpipe_records_applied_total{topic,type}             counter (committed)
//	logpipe_save_duration_seconds{topic,type}             histogram (decode, LookupInstance and Save)
//	logpipe_records_skipped_total{topic,reason}           counter (invalid_message, ignored_type, unknown_type, unknown_version, validation)
//	logpipe_apply_failures_total{topic}                   counter (records rolled back; applied again later)
//	logpipe_records_dead_lettered_total{topic,reason}     counter
//	logpipe_commits_total{topic}                          counter (transactions)
//	logpipe_transaction_duration_seconds{topic}           histogram (first apply to commit)
//	logpipe_consumer_lag_records{topic,partition}         gauge (Kafka: high watermark minus next offset to apply)
//	logpipe_consumer_lag_seconds{topic,shard}             gauge (Kinesis: MillisBehindLatest)
//	logpipe_partition_assignments_total{topic,change}     counter (change: added, revoked)
package logpipeprom

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logpipe-go/logpipe"
)

// Metrics is a set of Prometheus collectors fed by logpipe's hooks. Register
// it (it is a prometheus.Collector) and put it in logpipe.Settings.Hooks.
// It is safe for concurrent use.
type Metrics struct {
	sent, sendErrors    *prometheus.CounterVec
	sentBytes           *prometheus.CounterVec
	sendDuration        *prometheus.HistogramVec
	retries             *prometheus.CounterVec
	fetched, fetchedB   *prometheus.CounterVec
	applied             *prometheus.CounterVec
	saveDuration        *prometheus.HistogramVec
	skipped             *prometheus.CounterVec
	failed              *prometheus.CounterVec
	deadLettered        *prometheus.CounterVec
	commits             *prometheus.CounterVec
	txDuration          *prometheus.HistogramVec
	lagRecords, lagSecs *prometheus.GaugeVec
	assignments         *prometheus.CounterVec
	collectors          []prometheus.Collector
}

var (
	_ prometheus.Collector           = (*Metrics)(nil)
	_ logpipe.HookRecordSent         = (*Metrics)(nil)
	_ logpipe.HookSendRetried        = (*Metrics)(nil)
	_ logpipe.HookRecordApplied      = (*Metrics)(nil)
	_ logpipe.HookRecordSkipped      = (*Metrics)(nil)
	_ logpipe.HookApplyFailed        = (*Metrics)(nil)
	_ logpipe.HookRecordDeadLettered = (*Metrics)(nil)
	_ logpipe.HookFetch              = (*Metrics)(nil)
	_ logpipe.HookCommit             = (*Metrics)(nil)
	_ logpipe.HookAssigned           = (*Metrics)(nil)
)

type config struct {
	namespace   string
	buckets     []float64
	constLabels prometheus.Labels
}

// Option configures New.
type Option func(*config)

// WithNamespace prefixes every metric name with ns instead of the default
// "logpipe".
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithBuckets sets the buckets (in seconds) of the duration histograms.
// Default prometheus.DefBuckets (5ms to 10s).
func WithBuckets(b []float64) Option { return func(c *config) { c.buckets = b } }

// WithConstLabels adds labels to every metric (a service name, say).
// Default none.
func WithConstLabels(l prometheus.Labels) Option { return func(c *config) { c.constLabels = l } }

// New returns the collectors, not registered.
func New(opts ...Option) *Metrics {
	cfg := config{namespace: "logpipe", buckets: prometheus.DefBuckets}
	for _, o := range opts {
		o(&cfg)
	}
	m := &Metrics{}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: cfg.namespace, Name: name, Help: help, ConstLabels: cfg.constLabels}, labels)
		m.collectors = append(m.collectors, v)
		return v
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: cfg.namespace, Name: name, Help: help, Buckets: cfg.buckets, ConstLabels: cfg.constLabels}, labels)
		m.collectors = append(m.collectors, v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: cfg.namespace, Name: name, Help: help, ConstLabels: cfg.constLabels}, labels)
		m.collectors = append(m.collectors, v)
		return v
	}
	m.sent = counter("records_sent_total", "Records the broker acknowledged.", "topic", "type")
	m.sendErrors = counter("send_errors_total", "Records whose send failed.", "topic", "type")
	m.sentBytes = counter("sent_bytes_total", "Bytes of the records acknowledged (key, value and headers).", "topic")
	m.sendDuration = histogram("send_duration_seconds", "Time from handing a record to the backend to its acknowledgement (a whole SendBatch for its records).", "topic")
	m.retries = counter("send_retries_total", "Produce requests tried again; safe=true when the broker wrote nothing.", "topic", "safe")
	m.fetched = counter("records_fetched_total", "Records fetched by consumers.", "topic")
	m.fetchedB = counter("fetched_bytes_total", "Bytes of the records fetched (key, value and headers).", "topic")
	m.applied = counter("records_applied_total", "Records applied (Save succeeded) and committed.", "topic", "type")
	m.saveDuration = histogram("save_duration_seconds", "Time to decode a record and run LookupInstance and Save.", "topic", "type")
	m.skipped = counter("records_skipped_total", "Records skipped as bad and committed, by reason.", "topic", "reason")
	m.failed = counter("apply_failures_total", "Records rolled back (a failed save, transaction or commit); they are applied again later.", "topic")
	m.deadLettered = counter("records_dead_lettered_total", "Records moved to dead letters, by reason.", "topic", "reason")
	m.commits = counter("commits_total", "Transactions that applied records and committed their offsets.", "topic")
	m.txDuration = histogram("transaction_duration_seconds", "Time from a transaction's first apply to its commit.", "topic")
	m.lagRecords = gauge("consumer_lag_records", "Records written to a partition and not applied yet (high watermark minus next offset to apply).", "topic", "partition")
	m.lagSecs = gauge("consumer_lag_seconds", "How far a Kinesis shard's last read is behind its tip (MillisBehindLatest).", "topic", "shard")
	m.assignments = counter("partition_assignments_total", "Partitions or shards a consumer started (added) or stopped (revoked) reading.", "topic", "change")
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
}

// OnRecordSent implements logpipe.HookRecordSent.
func (m *Metrics) OnRecordSent(_ context.Context, e logpipe.SendEvent) {
	if e.Err != nil {
		m.sendErrors.WithLabelValues(e.Topic, e.Type).Inc()
		return
	}
	m.sent.WithLabelValues(e.Topic, e.Type).Inc()
	m.sentBytes.WithLabelValues(e.Topic).Add(float64(e.Bytes))
	m.sendDuration.WithLabelValues(e.Topic).Observe(e.Latency.Seconds())
}

// OnSendRetried implements logpipe.HookSendRetried.
func (m *Metrics) OnSendRetried(e logpipe.RetryEvent) {
	m.retries.WithLabelValues(e.Topic, strconv.FormatBool(e.Safe)).Inc()
}

// OnFetch implements logpipe.HookFetch: it counts the records and sets the
// lag gauges.
func (m *Metrics) OnFetch(_ context.Context, e logpipe.FetchEvent) {
	if e.Records > 0 {
		m.fetched.WithLabelValues(e.Topic).Add(float64(e.Records))
		m.fetchedB.WithLabelValues(e.Topic).Add(float64(e.Bytes))
	}
	for _, l := range e.Lag {
		switch {
		case l.Shard != "":
			m.lagSecs.WithLabelValues(l.Topic, l.Shard).Set(l.Behind.Seconds())
		case l.Records >= 0:
			m.lagRecords.WithLabelValues(l.Topic, strconv.Itoa(int(l.Partition))).Set(float64(l.Records))
		}
	}
}

// OnRecordApplied implements logpipe.HookRecordApplied.
func (m *Metrics) OnRecordApplied(_ context.Context, e logpipe.ApplyEvent) {
	m.applied.WithLabelValues(e.Topic, e.Type).Inc()
	m.saveDuration.WithLabelValues(e.Topic, e.Type).Observe(e.Latency.Seconds())
}

// OnRecordSkipped implements logpipe.HookRecordSkipped.
func (m *Metrics) OnRecordSkipped(_ context.Context, e logpipe.SkipEvent) {
	m.skipped.WithLabelValues(e.Topic, e.Reason).Inc()
}

// OnApplyFailed implements logpipe.HookApplyFailed.
func (m *Metrics) OnApplyFailed(_ context.Context, e logpipe.FailEvent) {
	m.failed.WithLabelValues(e.Topic).Inc()
}

// OnRecordDeadLettered implements logpipe.HookRecordDeadLettered.
func (m *Metrics) OnRecordDeadLettered(_ context.Context, e logpipe.DeadLetterEvent) {
	m.deadLettered.WithLabelValues(e.Topic, e.Reason).Inc()
}

// OnCommit implements logpipe.HookCommit.
func (m *Metrics) OnCommit(_ context.Context, e logpipe.CommitEvent) {
	m.commits.WithLabelValues(e.Topic).Inc()
	m.txDuration.WithLabelValues(e.Topic).Observe(e.Latency.Seconds())
}

// OnAssigned implements logpipe.HookAssigned: it counts the changes and
// drops the lag gauges of partitions and shards revoked.
func (m *Metrics) OnAssigned(e logpipe.AssignmentEvent) {
	if n := len(e.Added) + len(e.AddedShards); n > 0 {
		m.assignments.WithLabelValues(e.Topic, "added").Add(float64(n))
	}
	if n := len(e.Revoked) + len(e.RevokedShards); n > 0 {
		m.assignments.WithLabelValues(e.Topic, "revoked").Add(float64(n))
	}
	for _, p := range e.Revoked {
		m.lagRecords.DeleteLabelValues(e.Topic, strconv.Itoa(int(p)))
	}
	for _, s := range e.RevokedShards {
		m.lagSecs.DeleteLabelValues(e.Topic, s)
	}
}
