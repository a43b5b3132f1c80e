// Package kafka is logpipe's Apache Kafka backend, built on
// github.com/segmentio/kafka-go. Users select it through logpipe.Settings
// (Backend: kafka.New(kafka.Config{...})); the root package
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
// and calls Commit. With Config.GroupAssignment, several processes share the
// topic's partitions instead (see "Group assignment" below).
//
// # Memory of a consumer
//
// A consumer's memory is bounded by Config.FetchMaxBytes and the number of
// partitions, whatever the shape of the topic's record batches. kafka-go
// decodes every record batch of a fetch response into a buffer of 64 KiB
// pages of its own, so a batch of one small record (what kafka-python
// writes with linger 0, as django-logpipe's producer does) takes 64 KiB
// while it is decoded: a 1 MiB response of such batches took about 230 MiB.
// So each fetch asks for at most FetchMaxBytes/64 KiB batches (16 by
// default) of the size of the smallest batch of the partition's previous
// response, and never for more than FetchMaxBytes; records are copied out
// one at a time as Fetch takes them, and each batch's pages go back to
// kafka-go's pool. Per partition, a consumer then holds one decoded response
// (about FetchMaxBytes of pages, or one batch when a batch is larger) and
// the consumer as a whole 64 records in its channel plus what Fetch returns
// (up to MaxFetchRecords): about partitions × 2 × max(FetchMaxBytes, largest
// batch) of heap, which Go's collector lets grow to about twice that. The
// bound follows the previous response: where a partition's batches shrink
// suddenly (large batches, then one-record ones), the first response after
// the change can hold more batches, once. docs/kafka-bench.md has the
// figures, measured by the internal/memprobe command and
// BenchmarkConsumeBatchShapes.
//
// # What comes from kafka-go, and what this package does itself
//
// kafka-go provides the connections (Transport: one multiplexed connection
// per broker, TLS, SASL), the protocol's messages, and the requests this
// package sends through kafka.Client: Produce (which also tells the broker
// to wait for the replicas for half of the time left), Metadata,
// ListOffsets (a partition's first offset), OffsetFetch and OffsetCommit
// (consumer-group offsets), and the partitioners: Murmur2Balancer with
// Consistent set is a port of the Java client's murmur2 partitioner
// (TestPartitionsMatchJavaProducer checks it against Kafka's own Java
// producer), and RoundRobin spreads keyless records. The parts below are
// this package's own, each because kafka-go v0.4.51 lacks what it does.
//
// Produce queues (partition_queue.go), instead of kafka.Writer. A Writer
// sends a partition's batch once it holds BatchSize records (100) or
// BatchBytes, or after BatchTimeout (1s by default), so a lone record waits;
// with a BatchTimeout short enough not to delay it, the records that arrive
// while a request is in flight make batches of their own, each sent in a
// request of its own, since the partition's writer takes its queued batches
// one at a time. This package keeps one request per partition in flight and
// puts everything queued meanwhile into the next one
// (TestConcurrentSendsShareRequests: a lone Send is one request, 64
// concurrent Sends took a handful). Writer.WriteMessages returns no
// positions (only a Completion callback sees offsets), while Send returns
// each record's partition and offset (TestSendReturnsPartitionAndOffset).
// When the context of WriteMessages ends, the message stays in its batch
// and is written anyway; a Send abandoned before its record joins a request
// writes nothing and says so (TestAbandonedSendIsNotWritten). After a batch
// fails, a Writer goes on writing the batches queued behind it for that
// partition, so sending the failed records again puts them after later
// ones of the same key; here those records fail with a NotSentError, unsent
// (TestFailedRequestFailsTheRecordsQueuedBehindIt). And a Writer retries
// every temporary error up to MaxAttempts (10) times, timeouts included,
// after which the broker may have written the records: here only refusals
// that wrote nothing are retried freely, the others MaxSendRetries times
// (the original's KAFKA_MAX_SEND_RETRIES, default 0).
//
// Outcomes of a failed send (sent.go). kafka-go reports a request it never
// sent and one sent but not answered alike (an io.EOF, a context error), and
// a Writer returns one error for a whole batch, so a caller cannot tell a
// record that is not on the topic from one that may be. This package tells
// them apart, per record: a request whose records kafka-go never encoded
// (it had no connection, no leader, or the context ended first), whose
// write to the connection failed (the broker got at most part of it), or
// that the broker refused with an error code other than REQUEST_TIMED_OUT,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND, KAFKA_STORAGE_ERROR or an unknown error
// was not written (backend.ErrNotWritten), and is retried until SendTimeout;
// anything else after the write is unknown (backend.ErrMaybeWritten), and
// retried only MaxSendRetries times. A pooled connection the broker closed
// while idle (a broker shutting down gracefully closes them all) is found
// by a peek at its socket before a request is written to it, which makes
// the request not written rather than unknown
// (TestWriteToAConnectionTheBrokerClosedIsNotSent, TestNotWrittenReason;
// TestSendThroughBrokerFaults checks the outcomes against a broker that is
// restarted, killed and frozen).
//
// Fetch requests and read_committed filtering (partition_reader.go,
// committed.go), instead of kafka.Reader or Client.Fetch. Both send the
// isolation level, but neither filters what the broker sends back: the
// broker returns the records of aborted transactions with the list of those
// transactions, and leaves filtering them, and hiding the transaction
// markers, to the client. kafka.Reader reads that list and drops it
// (readFetchResponseHeaderV10 in read.go) and never tests a batch's control
// bit, so with IsolationLevel ReadCommitted it returns aborted records and
// the markers as messages (segmentio/kafka-go#1332, open);
// kafka.FetchResponse has no field for the list at all. This package sends
// the same fetch request as Client.Fetch, keeps the list, and filters as
// Kafka's Java consumer does: TestReadCommittedSkipsAbortedAndMarkers writes
// committed and aborted transactions with Kafka's Java producer and checks
// this package's consumer against kafka-go's Reader, which returns "a1" and
// the markers; TestReadCommittedUnit covers the cases one by one, including
// a fetch that starts at an abort marker. A kafka.Reader without a group
// also reads one partition only (ReaderConfig.Partition), and one with a
// GroupID joins the group and is given a share of the partitions, while a
// logpipe consumer reads every partition from offsets kept in the
// application's database (TestConsumeEveryPartitionAtItsPosition).
//
// A replaceable transport (client.go). A kafka-go Transport caches the
// cluster's metadata and re-reads it only at random moments within
// MetadataTTL (and after CreateTopics): a Metadata request for a topic it
// knows is answered from the cache, and an error saying the leader moved
// (NotLeaderForPartition) does not refresh it (segmentio/kafka-go#1221 and
// #1413, open; the maintainers' advice is a shorter TTL). So on such an
// error this package replaces the transport with a new one, whose first
// request reads the metadata, at most once a second
// (TestRefreshMetadataReplacesTheTransport); and a topic the cache does not
// know is looked up through a transport of its own before it is reported
// missing, since another client may just have created it
// (TestTopicCreatedAfterTheFirstLookupIsFound, where the cached transport
// still says the topic does not exist).
//
// Group coordinator retries (offsets.go). kafka-go's Transport finds a
// group's coordinator before each group request, ignores the error of that
// look-up (a cluster still creating __consumer_offsets answers with no
// coordinator, and the request then goes to any broker), and does not retry
// NotCoordinatorForGroup, GroupCoordinatorNotAvailable or
// GroupLoadInProgress; OffsetFetch and OffsetCommit are retried on those
// for up to 30 seconds (TestRetryCoordinator). The offsets themselves are
// committed as a standalone member (generation -1), like the original's
// KafkaOffsetStore, after the application's transaction commits
// (TestBrokerSideOffsetsResume).
//
// # Group assignment
//
// With Config.GroupAssignment, partitions come from kafka-go's consumer
// group API (kafka.NewConsumerGroup, ConsumerGroup.Next, Generation.Start;
// group.go), used for assignment only: the offsets kafka-go fetches for each
// assignment and Generation.CommitOffsets are not used. For each generation
// the consumer claims every partition assigned to it in the offset store
// (PartitionClaimer, offsetstore.Kafka.Claim: logpipe_partition_owner's
// generation raised, then the position read, in one transaction), starts
// reading it from there with the new generation as the fencing token of its
// commits (backend.Checkpoint.Fence), and stops reading every partition when
// the generation ends. Commit fails with backend.ErrFenced for a record read
// under a claim that is no longer current; the partition is then no longer
// read, and the next Fetch reads the others again from their stored
// positions, since the caller rolled their records back too
// (TestGroupAssignmentStaleCommitFenced).
//
// kafka-go v0.4.51's group API has the classic protocol's eager rebalances
// only (every member stops all its partitions at each rebalance), no static
// membership, and ends a generation only once the functions started with
// Generation.Start return. So the function started for a generation
// returns as soon as the generation ends, whatever the application is still
// applying, rather than wait for it: a save longer than the rebalance
// timeout would otherwise get the member evicted while it runs. Its commit
// is fenced instead (TestGroupSlowSaveFenced in internal/faults). A claim
// waits at most 3 seconds for a former owner's commit in flight (a frozen
// process may hold its row for ever), and is tried again while the
// generation lasts; the other partitions are read meanwhile. kafka-go
// v0.4.47 and older could not join groups on Kafka 4.0.0 (JoinGroup v1,
// segmentio/kafka-go#1378); v0.4.51 negotiates v1 or v2, tested against
// Kafka 4.1.1.
package kafka
