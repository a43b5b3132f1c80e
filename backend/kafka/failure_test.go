package kafka_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// closedPort returns a 127.0.0.1 address where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// blackHole returns a 127.0.0.1 address that accepts connections and never
// answers, like a broker that hangs.
func blackHole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func TestSendToUnreachableBrokerFailsWithinSendTimeout(t *testing.T) {
	t.Parallel()
	for name, addr := range map[string]string{"stopped": closedPort(t), "hanging": blackHole(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const timeout = 1500 * time.Millisecond
			p := newProducer(t, kafka.Config{Brokers: []string{addr}, SendTimeout: timeout, DialTimeout: 500 * time.Millisecond})
			start := time.Now()
			_, err := p.Send(context.Background(), msg("some-topic", "k", "json:{}"))
			elapsed := time.Since(start)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "logpipe/kafka")
			assert.Contains(t, err.Error(), addr, "the error names the broker")
			// Generous margin for -race on a loaded machine; the point is
			// that it does not hang.
			assert.Less(t, elapsed, timeout+3*time.Second)

			_, err = p.SendBatch(ctxTimeout(t, timeout), []backend.Message{msg("some-topic", "k", "json:{}")})
			require.Error(t, err)
		})
	}
}

func TestFetchFromUnreachableBrokerFails(t *testing.T) {
	t.Parallel()
	cfg := kafka.Config{Brokers: []string{closedPort(t)}, DialTimeout: 300 * time.Millisecond, PollInterval: 200 * time.Millisecond}
	c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: "t", Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	start := time.Now()
	_, err := c.Fetch(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), cfg.Brokers[0])
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestSendAfterClose(t *testing.T) {
	t.Parallel()
	p, err := kafka.NewProducer(kafka.Config{Brokers: []string{"127.0.0.1:9"}})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err = p.Send(context.Background(), msg("t", "", "json:{}"))
	assert.ErrorIs(t, err, kafka.ErrClosed)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := kafka.Config{
		Brokers:        []string{"nohost"},
		SendTimeout:    -time.Second,
		MaxSendRetries: -1,
		Acks:           7,
		SASL:           &kafka.SASL{Mechanism: "GSSAPI"},
	}.Validate()
	require.Error(t, err)
	for _, want := range []string{`"nohost" is not "host:port"`, "SendTimeout is negative", "MaxSendRetries is negative",
		"Acks", "GSSAPI", "SASL.Username is empty"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.ErrorContains(t, kafka.Config{}.Validate(), "Brokers is empty")
	require.NoError(t, kafka.Config{Brokers: []string{"127.0.0.1:9092"}, SASL: &kafka.SASL{Mechanism: kafka.SASLScramSHA512, Username: "u"}}.Validate())

	_, err = kafka.NewProducer(kafka.Config{})
	assert.Error(t, err)
	_, err = kafka.NewConsumer(kafka.Config{}, kafka.ConsumerOptions{})
	assert.ErrorContains(t, err, "Topic is empty")
}
