// Package kafka is logpipe's Apache Kafka backend, built on
// github.com/segmentio/kafka-go. Users select it through logpipe.Settings
// (Backend: kafka.New(kafka.Config{...)}); the root package
// drives the Producer and Consumer defined here.
//
// The Producer sends each record to the partition Kafka's Java client would
// choose (murmur2 of the key, made positive, modulo the partition count), so
// that a Go service and a Django service sending the same key agree. A Send
// returns as soon as the broker acknowledges the record: there is no linger
// or batch timeout. Records sent while a request to the same partition is in
// flight are batched into the next request, so that many concurrent Sends,
// or one SendBatch, reach a high throughput.
//
// The Consumer reads every partition of one topic, each from the offset
// stored in the application's database (logpipe_kafkaoffset, shared with
// django-logpipe) or, when Offsets is nil, from a Kafka consumer group's
// committed offsets. Nothing is committed before the caller applies a record
// and calls Commit.
package kafka
