package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"unicode/utf8"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/xdg-go/stringprep"
	"golang.org/x/text/unicode/norm"
)

// This file holds what makes TLS and SASL failures say what to fix, and
// what keeps SASL secrets out of errors and logs:
//   - the SASLprep checks of Config.Validate, which name the position of a
//     bad character, never the character or the secret;
//   - the redacting String, GoString and LogValue of SASL;
//   - a dialer that does the TLS handshake itself, so that a failed
//     handshake is told apart from a connection lost later;
//   - a transport wrapper that adds a hint to SASL errors whose cause is
//     clear.

// saslprepCheck is what saslprepProblem checks.
type saslprepCheck int

const (
	// refused: only what SASLprep (RFC 4013) refuses: invalid UTF-8,
	// prohibited and unassigned code points, and bidirectional text it
	// does not allow.
	refused saslprepCheck = iota
	// refusedOrChanged: also what SASLprep would map or normalize.
	refusedOrChanged
)

// saslprepProblem describes why SASLprep refuses s (or, with
// refusedOrChanged, would change it, and then changed is true), naming the
// position of the first offending character counted from 1, and never the
// character itself: s may be a secret. It returns "" when s passes.
func saslprepProblem(s string, check saslprepCheck) (problem string, changed bool) {
	pos := 0
	for i, r := range s {
		pos++
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return fmt.Sprintf("character %d is not valid UTF-8", pos), false
			}
		}
		if m, ok := mapped(r); ok {
			if check == refusedOrChanged {
				what := "a non-ASCII space, which SASLprep maps to an ASCII space"
				if len(m) == 0 {
					what = "an invisible character (such as a zero-width space or soft hyphen), which SASLprep removes"
				}
				return fmt.Sprintf("character %d is %s", pos, what), true
			}
			continue
		}
		if r == '\n' || r == '\r' {
			if i+1 == len(s) || (r == '\r' && s[i+1:] == "\n") {
				return fmt.Sprintf("it ends with a line break (character %d), as a secret read with os.ReadFile often does: trim it with strings.TrimRight(s, \"\\r\\n\")", pos), false
			}
			return fmt.Sprintf("character %d is a line break, which SASLprep (RFC 4013) prohibits", pos), false
		}
		if desc := prohibited(r); desc != "" {
			return fmt.Sprintf("character %d is %s, which SASLprep (RFC 4013) prohibits", pos, desc), false
		}
		if check == refusedOrChanged && norm.NFKC.String(string(r)) != string(r) {
			return fmt.Sprintf("character %d is a compatibility character (such as a fullwidth letter or a ligature), which SASLprep normalizes (NFKC) to another", pos), true
		}
	}
	if check == refusedOrChanged && !norm.NFKC.IsNormalString(s) {
		// A sequence that composes (a letter followed by a combining mark):
		// the first character that is not known to stay as it is.
		return fmt.Sprintf("character %d and those after it are not in Unicode normalization form NFKC (a letter with a combining mark, say), to which SASLprep normalizes",
			utf8.RuneCountInString(s[:norm.NFKC.QuickSpanString(s)])+1), true
	}
	out, err := stringprep.SASLprep.Prepare(s)
	if err != nil {
		// The per-character checks above passed: what remains is the
		// bidirectional-text rule (RFC 3454 section 6): a string with a
		// right-to-left character must have no left-to-right one, and
		// begin and end with a right-to-left one. stringprep's error names
		// the character, so it is not passed on.
		pos := 0
		for _, r := range s {
			pos++
			if stringprep.TableD1.Contains(r) {
				break
			}
		}
		return fmt.Sprintf("character %d is right-to-left, and the rest does not follow the bidirectional-text rule of SASLprep (RFC 3454 section 6: no left-to-right character, right-to-left first and last)", pos), false
	}
	if check == refusedOrChanged && out != s {
		return "SASLprep (RFC 4013) would change it", true
	}
	return "", false
}

// mapped reports whether SASLprep maps r, and to what.
func mapped(r rune) ([]rune, bool) {
	for _, m := range stringprep.SASLprep.Mappings {
		if to, ok := m.Map(r); ok {
			return to, true
		}
	}
	return nil, false
}

// prohibited says which kind of character SASLprep prohibits r as, or "".
func prohibited(r rune) string {
	switch {
	case stringprep.TableC2_1.Contains(r) || stringprep.TableC2_2.Contains(r):
		return "a control character (such as NUL or a tab)"
	case stringprep.TableA1.Contains(r):
		return "a code point not assigned in Unicode 3.2"
	case stringprep.TableC3.Contains(r):
		return "a private-use character"
	case stringprep.TableC4.Contains(r):
		return "a non-character code point"
	case stringprep.TableC5.Contains(r):
		return "a surrogate code point"
	case stringprep.TableC1_2.Contains(r), stringprep.TableC6.Contains(r), stringprep.TableC7.Contains(r),
		stringprep.TableC8.Contains(r), stringprep.TableC9.Contains(r):
		return "a formatting, display-control or tagging character"
	}
	return ""
}

// validateSASL appends to bad the problems of s's user name and password
// (Config.Validate's part for SASL).
func validateSASL(s *SASL, bad func(format string, args ...any)) {
	check := refused
	if s.Mechanism == SASLScramSHA256 || s.Mechanism == SASLScramSHA512 {
		// The client prepares both with SASLprep before hashing; Kafka
		// stores and compares them unprepared. A string SASLprep changes
		// can therefore never log in.
		check = refusedOrChanged
	}
	why := func(changed bool) string {
		if changed {
			return " (the SCRAM client prepares it with SASLprep, Kafka does not: it could not log in)"
		}
		return ""
	}
	if p, changed := saslprepProblem(s.Username, check); p != "" {
		bad("Config.SASL.Username %q cannot be used with %s: %s%s", s.Username, s.Mechanism, p, why(changed))
	}
	if p, changed := saslprepProblem(s.Password, check); p != "" {
		bad("Config.SASL.Password cannot be used with %s: %s%s", s.Mechanism, p, why(changed))
	}
}

// redacted stands for a password in String, GoString and LogValue.
const redacted = "REDACTED"

// String returns s with the password replaced, so that printing a Config
// (fmt's %v and %+v) does not show it.
func (s SASL) String() string {
	return fmt.Sprintf("{Mechanism:%s Username:%s Password:%s}", s.Mechanism, s.Username, pwText(s.Password))
}

// GoString is String for fmt's %#v.
func (s SASL) GoString() string {
	return fmt.Sprintf("kafka.SASL{Mechanism:%q, Username:%q, Password:%s}", s.Mechanism, s.Username, pwText(s.Password))
}

// LogValue makes log/slog log s without the password.
func (s SASL) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mechanism", string(s.Mechanism)), slog.String("username", s.Username),
		slog.String("password", pwText(s.Password)))
}

func pwText(p string) string {
	if p == "" {
		return `""`
	}
	return redacted
}

// saslMechanismError is the error of a SASL mechanism that could not be
// set up. It never holds the library's error, which quotes the password.
func saslMechanismError(s *SASL) error {
	p, _ := saslprepProblem(s.Username, refusedOrChanged)
	field := "Username"
	if p == "" {
		p, _ = saslprepProblem(s.Password, refusedOrChanged)
		field = "Password"
	}
	if p == "" {
		p = "SASLprep (RFC 4013) refuses it"
	}
	return fmt.Errorf("logpipe/kafka: SASL %s: Config.SASL.%s cannot be used: %s", s.Mechanism, field, p)
}

// TLS

// tlsDialer returns a kafka-go Transport.Dial function that connects and
// does the TLS handshake with cfg, as kafka-go would (ServerName is the
// broker's host unless set), but itself, so that a failed handshake is
// reported as one, with a hint where its cause is clear.
func tlsDialer(cfg *tls.Config) func(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		c := cfg.Clone()
		if c.ServerName == "" {
			c.ServerName, _, _ = net.SplitHostPort(address)
		}
		tc := &tlsConn{addr: address}
		c.GetClientCertificate = tc.clientCertificate(cfg)
		tc.Conn = tls.Client(raw, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, tc.hint(err, true)
		}
		return tc, nil
	}
}

// tlsConn is a TLS connection that remembers whether the broker asked for a
// client certificate that the client did not have, and says so when the
// broker then drops the connection (with TLS 1.3, it does after the
// client's side of the handshake has completed, on the first read).
type tlsConn struct {
	*tls.Conn
	addr   string
	noCert bool // the broker asked for a client certificate; none was sent
}

// clientCertificate chooses the client certificate as crypto/tls does
// (cfg.GetClientCertificate, else the first of cfg.Certificates the broker
// accepts, else none), and notes when there was none to send.
func (c *tlsConn) clientCertificate(cfg *tls.Config) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		var cert *tls.Certificate
		if cfg.GetClientCertificate != nil {
			var err error
			if cert, err = cfg.GetClientCertificate(cri); err != nil {
				return nil, err
			}
		} else {
			for i := range cfg.Certificates {
				if cri.SupportsCertificate(&cfg.Certificates[i]) == nil {
					cert = &cfg.Certificates[i]
					break
				}
			}
		}
		if cert == nil {
			cert = &tls.Certificate{}
		}
		c.noCert = len(cert.Certificate) == 0
		return cert, nil
	}
}

// Read reads from the TLS connection, explaining a broker's alert about the
// missing client certificate.
func (c *tlsConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.noCert {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "remote error" {
			return n, c.hint(err, false)
		}
	}
	return n, err
}

// hint wraps err, an error of the TLS handshake with the broker (or, with
// handshake false, of the first reads after it), in a *TLSError with a hint
// where the cause is clear.
func (c *tlsConn) hint(err error, handshake bool) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		op        *net.OpError
		h         string
	)
	switch {
	case c.noCert && errors.As(err, &op) && op.Op == "remote error":
		h = "the broker asked for a client certificate and none was sent: a listener with ssl.client.auth=required needs one in tls.Config.Certificates"
	case errors.As(err, &unknownCA):
		h = "the broker's certificate is not signed by a CA this client trusts: put the CA that signed it in tls.Config.RootCAs"
	case errors.As(err, &hostname):
		h = "the broker's certificate is not for the name this client connects to: connect by a name the certificate holds, or set tls.Config.ServerName to one"
	case handshake && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		// A plaintext Kafka listener reads the ClientHello as the size of a
		// request, finds it too large, and closes the connection.
		h = "the broker closed the connection during the TLS handshake: is this a TLS listener? (a PLAINTEXT or SASL_PLAINTEXT listener does so; use its SSL or SASL_SSL port, or leave Config.TLS nil)"
	}
	return &TLSError{Addr: c.addr, Hint: h, Err: err}
}

// TLSError is the error of a TLS connection to a broker that failed during
// or right after the handshake.
type TLSError struct {
	// Addr is the broker's address.
	Addr string
	// Hint says what to fix, when the cause is clear; else "".
	Hint string
	// Err is the error of crypto/tls (or of the connection).
	Err error
}

// Error names the broker, the hint and the TLS error.
func (e *TLSError) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("logpipe/kafka: TLS handshake with %s failed: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("logpipe/kafka: TLS handshake with %s failed: %s: %v", e.Addr, e.Hint, e.Err)
}

// Unwrap returns the TLS error.
func (e *TLSError) Unwrap() error { return e.Err }

// SASL

// hintTransport passes requests to a kafka-go transport and adds a hint to
// the SASL errors whose cause is clear.
type hintTransport struct {
	*kafkago.Transport
}

// RoundTrip sends req and explains a SASL error.
func (t *hintTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafkago.Request) (kafkago.Response, error) {
	res, err := t.Transport.RoundTrip(ctx, addr, req)
	if err != nil && t.SASL != nil {
		err = saslHint(err, t.SASL.Name())
	}
	return res, err
}

// saslHint wraps a SASL error whose cause is clear in a *SASLError.
func saslHint(err error, mechanism string) error {
	var h string
	switch {
	case errors.Is(err, kafkago.IllegalSASLState):
		// The broker answers a SASL handshake so on a listener whose
		// security protocol has no SASL.
		h = "the broker did not accept SASL on this listener: is SASL enabled there? (Config.SASL needs a SASL_SSL or SASL_PLAINTEXT listener; for a PLAINTEXT or SSL one, leave Config.SASL nil)"
	case errors.Is(err, kafkago.UnsupportedSASLMechanism):
		h = "the broker does not enable SASL mechanism " + mechanism + " on this listener (sasl.enabled.mechanisms): choose one it enables in Config.SASL.Mechanism"
	case errors.Is(err, kafkago.SASLAuthenticationFailed):
		h = "the broker refused the credentials: check Config.SASL's Username, Password and Mechanism (SCRAM users exist per mechanism)"
	default:
		return err
	}
	var se *SASLError
	if errors.As(err, &se) {
		return err
	}
	return &SASLError{Hint: h, Err: err}
}

// SASLError is a SASL authentication error with a hint of what to fix.
type SASLError struct {
	// Hint says what to fix.
	Hint string
	// Err is the broker's (or kafka-go's) error.
	Err error
}

// Error gives the hint and the error.
func (e *SASLError) Error() string {
	return fmt.Sprintf("logpipe/kafka: SASL: %s: %v", e.Hint, e.Err)
}

// Unwrap returns the underlying error.
func (e *SASLError) Unwrap() error { return e.Err }
