package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// What became of a produce request that failed is told apart in three ways,
// since kafka-go reports a request never sent and a request sent but not
// answered alike (an io.EOF, say):
//
//   - the request's records are read only when kafka-go encodes the request
//     on a connection it has (sentRecords): an error before that (no
//     connection to the broker, no leader in the metadata, the context
//     ended while waiting for a connection) means nothing was sent;
//   - a write to the connection that fails leaves the broker an incomplete
//     request, which it cannot append (unsentError); and a connection the
//     broker has closed while it was idle in kafka-go's pool (a broker
//     shutting down gracefully closes every connection) is found before the
//     request is written to it (checkedConn), rather than by the request's
//     read failing, which would leave its outcome unknown;
//   - a broker's error code says the broker appended nothing, except
//     REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND, KAFKA_STORAGE_ERROR
//     and UNKNOWN_SERVER_ERROR (maybeWrittenCode).
//
// Anything else after the request was written (a read that failed or timed
// out, the context ending) leaves the outcome unknown.

// sentRecords is a produce request's records that remember whether kafka-go
// has started encoding them, which it does on a connection, just before
// writing the request to it.
type sentRecords struct {
	kafkago.RecordReader
	read atomic.Bool
}

// ReadRecord notes the read and returns the next record.
func (r *sentRecords) ReadRecord() (*kafkago.Record, error) {
	r.read.Store(true)
	return r.RecordReader.ReadRecord()
}

// unsentError is the error of a write to a broker's connection that did not
// complete: the broker has at most part of the request, which it discards.
type unsentError struct {
	err error
}

// Error says the request was not sent.
func (e *unsentError) Error() string {
	return fmt.Sprintf("request not sent: %v", e.err)
}

// Unwrap returns the connection's error.
func (e *unsentError) Unwrap() error { return e.err }

// errPeerClosed says that the broker had closed the connection before a
// request was written to it.
var errPeerClosed = errors.New("the broker had closed the connection")

// checkedConn is a connection to a broker whose writes fail with an
// *unsentError, and fail before writing when the broker has closed the
// connection.
type checkedConn struct {
	net.Conn
}

// Write writes b, first checking that the broker has not closed the
// connection.
func (c *checkedConn) Write(b []byte) (int, error) {
	if err := peerClosed(c.Conn); err != nil {
		return 0, &unsentError{err: err}
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		return n, &unsentError{err: err}
	}
	return n, nil
}

// checkedDial wraps dial's connections in a checkedConn.
func checkedDial(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &checkedConn{Conn: c}, nil
	}
}

// peerClosed reports errPeerClosed (or the connection's error) when the
// broker has closed c: a peek at c's socket, which does not wait, finds its
// end (or a reset). A socket with data waiting, or one it cannot peek at,
// counts as open.
func peerClosed(c net.Conn) error {
	for range 4 { // a TLS connection's own connection, and so on
		nc, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return peek(rc)
}

// notWrittenReason reports why a produce attempt that failed with err wrote
// nothing, or "" when it may have written its records. read says whether
// kafka-go encoded the request's records.
func notWrittenReason(err error, read bool) string {
	var (
		kerr   kafkago.Error
		unsent *unsentError
	)
	switch {
	case !read:
		return "the request was not sent"
	case errors.As(err, &unsent):
		return "the request was not sent"
	case errors.As(err, &kerr):
		if maybeWrittenCode(kerr) {
			return ""
		}
		return "the broker refused the request"
	case errors.Is(err, protocol.ErrNoLeader), errors.Is(err, protocol.ErrNoPartition), errors.Is(err, syscall.ECONNREFUSED):
		return "the request was not sent"
	}
	return ""
}

// maybeWrittenCode reports whether a produce response's error code leaves
// the records possibly appended: the leader appended them and then timed
// out waiting for the replicas, or failed in a way it does not say.
func maybeWrittenCode(e kafkago.Error) bool {
	switch e {
	case kafkago.RequestTimedOut, kafkago.NotEnoughReplicasAfterAppend, kafkago.KafkaStorageError, kafkago.Unknown:
		return true
	}
	return false
}

// retryRefusal reports whether a produce attempt that wrote nothing, failing
// with err, is worth trying again: anything but a refusal that will come
// again (a record too large, an invalid record, no authorization). A
// missing topic is tried again too: the producer looked the topic up
// before, so a broker that says so is restarting, or the topic is being
// recreated.
func retryRefusal(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary() || kerr == kafkago.UnknownTopicOrPartition || kerr == kafkago.BrokerNotAvailable
	}
	return true
}
