package kafka

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNotWrittenReason(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err        error
		read       bool
		notWritten bool
	}{
		{io.EOF, false, true}, // the records were never encoded
		{context.DeadlineExceeded, false, true},
		{io.EOF, true, false}, // sent, then the connection was lost
		{context.DeadlineExceeded, true, false},
		{syscall.ECONNRESET, true, false},
		{&unsentError{err: errPeerClosed}, true, true},
		{fmt.Errorf("kafka.(*Client).Produce: %w", &unsentError{err: syscall.EPIPE}), true, true},
		{kafkago.NotLeaderForPartition, true, true},
		{kafkago.UnknownTopicOrPartition, true, true},
		{kafkago.MessageSizeTooLarge, true, true},
		{kafkago.NotEnoughReplicas, true, true},
		{kafkago.RequestTimedOut, true, false},
		{kafkago.NotEnoughReplicasAfterAppend, true, false},
		{kafkago.Unknown, true, false},
		{protocol.ErrNoLeader, true, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true, true},
	} {
		reason := notWrittenReason(c.err, c.read)
		assert.Equal(t, c.notWritten, reason != "", "%v (records read: %v): %q", c.err, c.read, reason)
	}
	assert.True(t, retryRefusal(kafkago.UnknownTopicOrPartition))
	assert.True(t, retryRefusal(kafkago.LeaderNotAvailable))
	assert.True(t, retryRefusal(&unsentError{err: errPeerClosed}))
	assert.False(t, retryRefusal(kafkago.MessageSizeTooLarge))
	assert.False(t, retryRefusal(kafkago.TopicAuthorizationFailed))
}

// TestWriteToAConnectionTheBrokerClosedIsNotSent: a pooled connection the
// broker closed while idle (as a broker shutting down does) fails the next
// write with an *unsentError before anything is written, so the request's
// outcome is known: not written.
func TestWriteToAConnectionTheBrokerClosedIsNotSent(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("peeking at a socket is not done here")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	dial := checkedDial((&net.Dialer{}).DialContext)
	c, err := dial(context.Background(), "tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	server := <-accepted

	// Open: the write goes through.
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err)

	require.NoError(t, server.Close())
	// The broker's FIN arrives shortly after Close returns; peeking
	// writes nothing.
	require.Eventually(t, func() bool { return peerClosed(c.(*checkedConn).Conn) != nil }, 5*time.Second, 10*time.Millisecond)
	n, err := c.Write([]byte("produce"))
	assert.Zero(t, n, "nothing of the request was written")
	var unsent *unsentError
	require.ErrorAs(t, err, &unsent)
	assert.ErrorIs(t, err, errPeerClosed)
	assert.NotEmpty(t, notWrittenReason(err, true))
}
