// Package kinesis is logpipe's AWS Kinesis Data Streams backend, built on
// aws-sdk-go-v2. Users select it through logpipe.Settings (Backend:
// kinesis.New(kinesis.Config{...})); the root package drives the Producer
// and Consumer defined here.
//
// The Producer writes each record with PutRecord, using the record key as
// the partition key and passing the sequence number of the previous record
// sent with the same key as SequenceNumberForOrdering, as django-logpipe
// does. Its batched path (SendBatch) uses PutRecords and keeps the order of
// records that share a key.
//
// The Consumer reads every shard of one stream in turn, a page at a time,
// and keeps the last applied sequence number of each shard in the
// application's database (table logpipe_kinesisoffset, shared with
// django-logpipe). After a reshard, a child shard is read only once every
// parent has been read to its end (or is no longer listed), so the records
// of one key stay in order across a split or a merge. Throttling and
// transient errors are retried without limit; any other API error is
// retried once and then returned, so that a consumer never waits forever on
// an error that will not go away.
//
// With Config.Leases, consumer processes of one stream share its shards
// instead of each reading all of them: each holds leases on its share in
// the table logpipe_kinesis_lease of the same database, renewed by a
// goroutine of the consumer, taken over when their owner stops renewing
// them, balanced when a process joins, and given back by Close. Position
// commits are fenced by the lease epoch in the record's transaction (see
// LeaseConfig and offsetstore.CheckKinesisLease).
package kinesis
