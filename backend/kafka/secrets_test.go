package kafka_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"

	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// token returns n random letters and digits: a part of a secret that
// nothing else in the output can contain by chance.
func token(t testing.TB, n int) string {
	t.Helper()
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		require.NoError(t, err)
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// badSecret is a secret with one kind of bad character: head + bad + tail.
type badSecret struct {
	name string
	bad  string
	end  bool // bad goes at the end: head + tail + bad
	// scramOnly: SASLprep only maps or normalizes it, so PLAIN (which sends
	// the password as it is) accepts it.
	scramOnly bool
}

// badSecrets covers every class of character SASLprep refuses or changes.
var badSecrets = []badSecret{
	{name: "control character", bad: "\x01"},
	{name: "trailing newline", bad: "\n", end: true},
	{name: "trailing CRLF", bad: "\r\n", end: true},
	{name: "inner newline", bad: "\n"},
	{name: "NUL", bad: "\x00"},
	{name: "tab", bad: "\t"},
	{name: "DEL", bad: "\x7f"},
	{name: "C1 control", bad: "\u0085"},
	{name: "private use", bad: "\ue000"},
	{name: "non-character", bad: "\ufffe"},
	{name: "replacement character", bad: "\ufffd"},
	{name: "unassigned in Unicode 3.2", bad: "\u0221"},
	{name: "language tag", bad: "\U000E0001"},
	{name: "left-to-right mark", bad: "\u200e"},
	{name: "right-to-left letter among left-to-right ones", bad: "\u05d0"},
	{name: "invalid UTF-8 byte", bad: "\xff"},
	{name: "truncated UTF-8", bad: "\xe2\x82"},
	{name: "UTF-8 encoded surrogate", bad: "\xed\xa0\x80"},
	{name: "no-break space U+00A0", bad: "\u00a0", scramOnly: true},
	{name: "ideographic space", bad: "\u3000", scramOnly: true},
	{name: "zero-width space", bad: "\u200b", scramOnly: true},
	{name: "soft hyphen", bad: "\u00ad", scramOnly: true},
	{name: "fullwidth letters", bad: "\uff33\uff45\uff43", scramOnly: true},
	{name: "ligature", bad: "\ufb01", scramOnly: true},
	{name: "combining accent", bad: "e\u0301", scramOnly: true},
}

// needles are what must not appear in any output for a secret made of head,
// bad and tail: the secret itself in the forms a message could carry it in
// (raw, quoted, ASCII-quoted, JSON, valid-UTF-8, NFKC), its random parts and
// every 6-character piece of them, and the bad characters with their
// neighbours.
func needles(secret, head, bad, tail string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	forms := func(s string) []string {
		j, _ := json.Marshal(s)
		q := strconv.Quote(s)
		qa := strconv.QuoteToASCII(s)
		return []string{s, q[1 : len(q)-1], qa[1 : len(qa)-1], string(j[1 : len(j)-1]),
			strings.ToValidUTF8(s, "\ufffd"), norm.NFKC.String(s), fmt.Sprintf("%x", s)}
	}
	for _, f := range forms(secret) {
		add(f)
	}
	for _, part := range []string{head, tail} {
		for i := 0; i+6 <= len(part); i++ {
			add(part[i : i+6])
		}
	}
	for _, f := range forms(head[len(head)-3:] + bad) {
		add(f)
	}
	for _, f := range forms(bad + tail[:3]) {
		add(f)
	}
	return out
}

// TestSecretsNeverInErrorsOrLogs feeds passwords with every kind of bad
// character through Validate, NewProducer and Send, NewConsumer and Fetch
// (database and group offsets), with PLAIN and both SCRAMs, against the
// SASL_SSL listener, and searches every error and log line for the secret
// and for pieces of it.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	env := testenv.KafkaSecure(t)
	roots := testRoots(t, env)
	type secretCase struct {
		badSecret
		secret, head, tail string
	}
	var cases []secretCase
	for _, b := range badSecrets {
		head, tail := token(t, 12), token(t, 12)
		s := head + b.bad + tail
		if b.end {
			s = head + tail + b.bad
		}
		cases = append(cases, secretCase{b, s, head, tail})
	}
	// A well-formed password that is wrong: it reaches the broker with
	// every mechanism.
	head, tail := token(t, 12), token(t, 12)
	cases = append(cases, secretCase{badSecret{name: "valid but wrong", bad: "-"}, head + "-" + tail, head, tail})

	for _, mech := range []kafka.SASLMechanism{kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512} {
		for _, sc := range cases {
			t.Run(string(mech)+"/"+sc.name, func(t *testing.T) {
				var logs bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				textLogger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				cfg := short(kafka.Config{
					Brokers: env.SASLSSL,
					TLS:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
					SASL:    &kafka.SASL{Mechanism: mech, Username: env.Username, Password: sc.secret},
					Logger:  logger,
				})
				var outputs []string
				record := func(what string, err error) {
					t.Helper()
					require.Error(t, err, "%s must fail with password %q", what, sc.secret)
					outputs = append(outputs, what+": "+err.Error(), fmt.Sprintf("%+v", err))
				}

				// A configuration logged or printed shows no password.
				logger.Info("config", "sasl", cfg.SASL, "config", cfg)
				textLogger.Info("config", "sasl", cfg.SASL, "config", cfg)
				outputs = append(outputs, fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg.SASL, cfg.SASL))

				validateErr := cfg.Validate()
				refused := sc.name != "valid but wrong" && (mech != kafka.SASLPlain || !sc.scramOnly)
				if refused {
					record("Validate", validateErr)
					assert.Contains(t, validateErr.Error(), "Config.SASL.Password")
					pos := utf8.RuneCountInString(sc.head) + 1
					if sc.end {
						pos += utf8.RuneCountInString(sc.tail)
					}
					assert.Contains(t, validateErr.Error(), fmt.Sprintf("character %d", pos), "the message names the position")
					if sc.end {
						assert.Contains(t, validateErr.Error(), "strings.TrimRight")
					}
				} else {
					require.NoError(t, validateErr)
				}

				start := time.Now()
				p, err := kafka.NewProducer(cfg)
				if refused {
					record("NewProducer", err)
				} else {
					require.NoError(t, err)
					_, err = p.Send(context.Background(), msg("lp-secret-any", "k", "json:{}"))
					record("Send", err)
					var sasl *kafka.SASLError
					assert.ErrorAs(t, err, &sasl, "the broker refused the credentials")
					require.NoError(t, p.Close())
				}

				c, err := kafka.NewConsumer(cfg, kafka.ConsumerOptions{Topic: "lp-secret-any", Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
				if refused {
					record("NewConsumer", err)
				} else {
					require.NoError(t, err)
					_, err = c.Fetch(ctxTimeout(t, failFast))
					record("Fetch", err)
					require.NoError(t, c.Close())
				}

				gcfg := cfg
				gcfg.GroupID = testenv.Name("lp-secret")
				g, err := kafka.NewConsumer(gcfg, kafka.ConsumerOptions{Topic: "lp-secret-any", Logger: textLogger, BrokerOffsets: true})
				if refused {
					record("NewConsumer (group)", err)
				} else {
					require.NoError(t, err)
					_, err = g.Fetch(ctxTimeout(t, failFast))
					record("Fetch (group)", err)
					require.NoError(t, g.Close())
				}
				assert.Less(t, time.Since(start), 3*failFast)

				outputs = append(outputs, logs.String())
				require.NotEmpty(t, logs.String())
				for _, out := range outputs {
					for _, n := range needles(sc.secret, sc.head, sc.bad, sc.tail) {
						if strings.Contains(out, n) {
							t.Errorf("output holds %q, part of the secret %q:\n%s", n, sc.secret, out)
						}
					}
				}
			})
		}
	}
}

// TestValidateSASLUserNameAndPosition checks the SASLprep rules for user
// names (which, not being secrets, are quoted), and that a password's
// position is counted in characters, not bytes.
func TestValidateSASLUserNameAndPosition(t *testing.T) {
	t.Parallel()
	cfg := func(mech kafka.SASLMechanism, user, pw string) kafka.Config {
		return kafka.Config{Brokers: []string{"127.0.0.1:9092"}, SASL: &kafka.SASL{Mechanism: mech, Username: user, Password: pw}}
	}
	err := cfg(kafka.SASLScramSHA256, "alice\u00a0b", "pw").Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Config.SASL.Username "alice\u00a0b"`)
	assert.Contains(t, err.Error(), "character 6 is a non-ASCII space")
	require.NoError(t, cfg(kafka.SASLPlain, "alice\u00a0b", "pw").Validate(), "PLAIN sends it unchanged")
	assert.ErrorContains(t, cfg(kafka.SASLPlain, "alice\n", "pw").Validate(), "Config.SASL.Username")

	// Multi-byte characters before the bad one count as one each.
	err = cfg(kafka.SASLScramSHA512, "u", "ééé\x00").Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "character 4 is a control character")
	// Passwords SASLprep leaves as they are pass, non-ASCII ones included.
	for _, mech := range []kafka.SASLMechanism{kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512} {
		require.NoError(t, cfg(mech, "u", "pässwörd with spaces ✓ 密码").Validate())
	}
}
