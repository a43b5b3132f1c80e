// Package outbox sends messages in the application's database transaction
// (the transactional outbox pattern), closing the gap between saving a
// change and sending it: a crash or a broker outage after the commit can no
// longer leave the change saved and never sent.
//
// A Writer renders a message exactly as logpipe.Producer.Send does (same
// bytes, key, format and producer id) and inserts it into the
// logpipe_outbox table through the caller's transaction, so the record
// commits or rolls back with the change. A Relay, run like a consumer
// (it is a logpipe.Runner), sends committed records through
// Settings.Backend, in batches where the backend has them, and deletes them
// once the broker has acknowledged them. offsetstore.Migrate creates the
// tables (migration 3); PostgreSQL and SQLite are supported.
//
// A committed record is picked up within the relay's poll interval
// (WithPollInterval); on PostgreSQL, writers made WithNotify and relays made
// WithListen wake the relay at commit instead, with polling as the
// fallback.
//
// # Guarantees
//
//   - Nothing committed is lost: a record stays in the table until the
//     broker has acknowledged it, whatever crashes in between.
//   - Records of one topic and key are sent in the order their transactions
//     committed. Writer.Send takes the next sequence number of the key from
//     logpipe_outbox_seq with an upsert that locks the key's counter row
//     until the transaction ends, so a second transaction sending the same
//     key waits for the first to commit or roll back, and only then gets its
//     sequence number and its row id. Ids therefore follow commit order
//     within a key (not across keys, which need no order), and the counter
//     has no gaps: a rolled-back transaction gives its number back.
//   - A record whose transaction commits after later records were relayed
//     (a long transaction holding a lower id) is still sent: the relay keeps
//     no high-water mark, it reads whatever rows remain, lowest id first.
//   - Several relays may run (replicas of a service): each batch is read,
//     sent and deleted inside one database transaction that holds the lock
//     of the relay's row in logpipe_outbox_relay (FOR UPDATE SKIP LOCKED on
//     PostgreSQL, the database's write lock on SQLite). One relay sends at a
//     time; the others wait a poll interval and try again. A relay that
//     dies loses its connection, which releases the lock and rolls back its
//     deletes, so the next relay starts from the first unsent record; on
//     PostgreSQL, a relay whose host vanished without closing its
//     connection is ended by the server after WithHoldTimeout.
//   - Delivery is at least once. A relay killed after the broker
//     acknowledged a batch but before its transaction committed sends that
//     batch again: at most one batch (WithBatchSize, default 100) of
//     duplicates per crash or failed send. Consumers absorb them with the
//     lookup-then-save pattern (a message carries the full state of its
//     key, so applying it twice leaves the same row); on Kafka, records
//     also carry the key's sequence number in the logpipe-outbox-seq
//     header, with which a consumer can drop a record older than one it has
//     applied.
//
// Sending waits for the key's counter row lock: take your own row lock first
// and call Send after it (or always in one order), or the database may find
// a deadlock and abort one of the transactions.
package outbox
