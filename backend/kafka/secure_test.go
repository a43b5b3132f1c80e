package kafka_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// The tests of this file run against the test broker's secured listeners
// (scripts/services/kafka.sh): SSL, SASL_SSL with PLAIN, SCRAM-SHA-256 and
// SCRAM-SHA-512, and SSL with a required client certificate (mTLS).

// The client settings shown in README.md's "Hosted Kafka: TLS and SASL",
// with the test CA in place of the system roots (the test broker's
// certificate is not publicly signed): the README names the tests that run
// them.

// mskSCRAMConfig is the README's Amazon MSK configuration (SASL/SCRAM).
func mskSCRAMConfig(brokers []string, user, password string, roots *x509.CertPool) kafka.Config {
	return kafka.Config{
		Brokers: brokers,
		TLS:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		SASL:    &kafka.SASL{Mechanism: kafka.SASLScramSHA512, Username: user, Password: password},
	}
}

// confluentCloudConfig is the README's Confluent Cloud configuration (SASL
// PLAIN over TLS, an API key and secret).
func confluentCloudConfig(brokers []string, apiKey, apiSecret string, roots *x509.CertPool) kafka.Config {
	return kafka.Config{
		Brokers: brokers,
		TLS:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		SASL:    &kafka.SASL{Mechanism: kafka.SASLPlain, Username: apiKey, Password: apiSecret},
	}
}

// mTLSConfig is the README's self-hosted mutual-TLS configuration: the
// cluster's own CA, and a client certificate.
func mTLSConfig(t testing.TB, brokers []string, caFile, certFile, keyFile string) kafka.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	ca, err := os.ReadFile(caFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(ca), "no certificate in %s", caFile)
	return kafka.Config{
		Brokers: brokers,
		TLS:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}},
	}
}

// testRoots is a pool with the test CA.
func testRoots(t testing.TB, env testenv.SecureKafka) *x509.CertPool {
	t.Helper()
	ca, err := os.ReadFile(env.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(ca))
	return roots
}

// short makes cfg fail fast and poll often, for tests.
func short(cfg kafka.Config) kafka.Config {
	cfg.DialTimeout = 2 * time.Second
	cfg.SendTimeout = 4 * time.Second
	cfg.RequestTimeout = 4 * time.Second
	cfg.PollInterval = 200 * time.Millisecond
	cfg.MetadataRefresh = time.Second
	return cfg
}

// roundTrip sends records through cfg's listener and consumes them, with
// offsets in a database (offsetstore.Kafka on SQLite) and with the offsets
// of a consumer group, and checks that a second consumer resumes after the
// committed records.
func roundTrip(t *testing.T, cfg kafka.Config) {
	t.Helper()
	cfg = short(cfg)
	for _, offsets := range []string{"database", "group"} {
		t.Run(offsets, func(t *testing.T) {
			topic := createTopic(t, 2)
			ctx := ctxTimeout(t, 60*time.Second)
			p := newProducer(t, cfg)
			sent := map[string]bool{}
			for _, k := range []string{"a", "b", "c"} {
				pos, err := p.Send(ctx, msg(topic, k, "json:{\"k\":\""+k+"\"}"))
				require.NoError(t, err)
				assert.Equal(t, topic, pos.Topic)
				sent[k] = true
			}

			var db *gorm.DB
			ccfg := cfg
			opts := kafka.ConsumerOptions{Topic: topic}
			if offsets == "database" {
				db = testenv.SQLite(t)
				opts.Offsets = &offsetstore.Kafka{DB: db}
			} else {
				opts.BrokerOffsets = true
				ccfg.GroupID = testenv.Name("lp-secure")
			}
			consumeAndCommit := func(n int) []backend.Record {
				c := newConsumer(t, ccfg, opts)
				defer func() { _ = c.Close() }()
				return consume(t, c, n, func(r backend.Record) {
					if db != nil {
						require.NoError(t, db.Transaction(func(tx *gorm.DB) error { return c.Commit(ctx, tx, r) }))
					} else {
						require.NoError(t, c.Commit(ctx, nil, r))
					}
				})
			}
			got := consumeAndCommit(3)
			for _, r := range got {
				assert.True(t, sent[string(r.Key)], "unexpected record %q", r.Key)
				delete(sent, string(r.Key))
			}
			assert.Empty(t, sent, "records not received")

			// The positions were stored through the secured listener (or
			// the database): a new consumer reads only what follows.
			_, err := p.Send(ctx, msg(topic, "d", "json:{}"))
			require.NoError(t, err)
			if opts.Offsets != nil {
				opts.Offsets = &offsetstore.Kafka{DB: db}
			}
			more := consumeAndCommit(1)
			assert.Equal(t, "d", string(more[0].Key))
		})
	}
}

func TestSecuredListenerTLS(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	roundTrip(t, kafka.Config{Brokers: env.SSL, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: testRoots(t, env)}})
}

func TestSecuredListenerSCRAMSHA256(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	roundTrip(t, kafka.Config{
		Brokers: env.SASLSSL,
		TLS:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: testRoots(t, env)},
		SASL:    &kafka.SASL{Mechanism: kafka.SASLScramSHA256, Username: env.Username, Password: env.Password},
	})
}

// TestReadmeAmazonMSKSCRAM runs README.md's Amazon MSK configuration, with
// the password loaded from a file as the README shows.
func TestReadmeAmazonMSKSCRAM(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	// A mounted secret often ends with a line break.
	file := filepath.Join(t.TempDir(), "kafka-password")
	require.NoError(t, os.WriteFile(file, []byte(env.Password+"\n"), 0o600))

	b, err := os.ReadFile(file)
	require.NoError(t, err)
	untrimmed := mskSCRAMConfig(env.SASLSSL, env.Username, string(b), testRoots(t, env))
	err = untrimmed.Validate()
	require.Error(t, err, "Validate catches the line break")
	assert.Contains(t, err.Error(), "ends with a line break")
	assert.NotContains(t, err.Error(), env.Password)

	password := strings.TrimRight(string(b), "\r\n") // as the README shows
	roundTrip(t, mskSCRAMConfig(env.SASLSSL, env.Username, password, testRoots(t, env)))
}

// TestReadmeConfluentCloudPlain runs README.md's Confluent Cloud
// configuration.
func TestReadmeConfluentCloudPlain(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	roundTrip(t, confluentCloudConfig(env.SASLSSL, env.Username, env.Password, testRoots(t, env)))
}

// TestReadmeSelfHostedMTLS runs README.md's self-hosted mutual-TLS
// configuration.
func TestReadmeSelfHostedMTLS(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	roundTrip(t, mTLSConfig(t, env.MTLS, env.CA, env.ClientCert, env.ClientKey))
}

// failFast is the bound of a failure test: the timeouts of short, and a
// margin for -race on a loaded machine.
const failFast = 10 * time.Second

// TestSecuredFailuresSayWhatToFix checks that each misconfiguration fails
// within a few seconds, in Send and in Fetch, with a message naming its
// likely cause.
func TestSecuredFailuresSayWhatToFix(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	plain := testenv.KafkaBrokers(t)
	roots := testRoots(t, env)
	trusted := func() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots} }
	scram := func(mech kafka.SASLMechanism, pw string) *kafka.SASL {
		return &kafka.SASL{Mechanism: mech, Username: env.Username, Password: pw}
	}
	wrongPW := "Wr0ng-pw-Qz81xv"
	wrongName := trusted()
	wrongName.ServerName = "wrong.example"
	tls12, tls13 := trusted(), trusted()
	tls12.MaxVersion = tls.VersionTLS12
	tls13.MinVersion = tls.VersionTLS13
	mtlsWant := []string{"TLS", env.MTLS[0], "client certificate", "tls.Config.Certificates"}
	for _, tc := range []struct {
		name    string
		cfg     kafka.Config
		want    []string
		errorAs any
	}{
		{"wrong password SCRAM-SHA-512", kafka.Config{Brokers: env.SASLSSL, TLS: trusted(), SASL: scram(kafka.SASLScramSHA512, wrongPW)},
			[]string{"refused the credentials", "Password"}, new(*kafka.SASLError)},
		{"wrong password PLAIN", kafka.Config{Brokers: env.SASLSSL, TLS: trusted(), SASL: scram(kafka.SASLPlain, wrongPW)},
			[]string{"refused the credentials", "Password"}, new(*kafka.SASLError)},
		{"untrusted CA", kafka.Config{Brokers: env.SSL, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}},
			[]string{"TLS handshake", env.SSL[0], "tls.Config.RootCAs"}, new(*kafka.TLSError)},
		{"wrong server name", kafka.Config{Brokers: env.SSL, TLS: wrongName},
			[]string{"TLS handshake", "wrong.example", "tls.Config.ServerName"}, new(*kafka.TLSError)},
		{"TLS against the plaintext listener", kafka.Config{Brokers: plain, TLS: trusted()},
			[]string{"TLS handshake", plain[0], "is this a TLS listener?"}, new(*kafka.TLSError)},
		{"SASL against the TLS listener without SASL", kafka.Config{Brokers: env.SSL, TLS: trusted(), SASL: scram(kafka.SASLScramSHA256, env.Password)},
			[]string{"did not accept SASL on this listener: is SASL enabled there?"}, new(*kafka.SASLError)},
		{"SASL against the plaintext listener", kafka.Config{Brokers: plain, SASL: scram(kafka.SASLPlain, env.Password)},
			[]string{"did not accept SASL on this listener: is SASL enabled there?"}, new(*kafka.SASLError)},
		{"missing client certificate", kafka.Config{Brokers: env.MTLS, TLS: trusted()},
			[]string{"TLS", env.MTLS[0], "client certificate", "tls.Config.Certificates"}, new(*kafka.TLSError)},
		// With TLS 1.2 the broker refuses during the handshake; with TLS 1.3
		// after the client's side of it, on the first read.
		{"missing client certificate TLS 1.2", kafka.Config{Brokers: env.MTLS, TLS: tls12}, mtlsWant, new(*kafka.TLSError)},
		{"missing client certificate TLS 1.3", kafka.Config{Brokers: env.MTLS, TLS: tls13}, mtlsWant, new(*kafka.TLSError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := short(tc.cfg)
			check := func(what string, err error, start time.Time) {
				t.Helper()
				require.Error(t, err, what)
				t.Logf("%s: %v", what, err)
				assert.Less(t, time.Since(start), failFast, "%s took too long", what)
				for _, w := range tc.want {
					assert.Contains(t, err.Error(), w, what)
				}
				assert.True(t, errors.As(err, tc.errorAs), "%s: %T %v", what, err, err)
				assert.NotContains(t, err.Error(), env.Password)
				assert.NotContains(t, err.Error(), wrongPW)
			}

			p := newProducer(t, cfg)
			start := time.Now()
			_, err := p.Send(context.Background(), msg("lp-secure-any", "k", "json:{}"))
			check("Send", err, start)

			c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: "lp-secure-any", Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
			start = time.Now()
			_, err = c.Fetch(ctxTimeout(t, failFast))
			check("Fetch", err, start)

			gcfg := cfg
			gcfg.GroupID = testenv.Name("lp-secure")
			g := newConsumer(t, gcfg, kafka.ConsumerOptions{Topic: "lp-secure-any", BrokerOffsets: true})
			start = time.Now()
			_, err = g.Fetch(ctxTimeout(t, failFast))
			check("Fetch (group offsets)", err, start)
		})
	}
}
