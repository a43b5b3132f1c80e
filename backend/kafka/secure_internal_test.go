package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SCRAM library's own error quotes the password: saslMechanism, reached
// without Validate, must not pass it on.
func TestSASLMechanismErrorHoldsNoPassword(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"Qx7vLmT2pR\n", "Qx7vLmT2pR\x00zz", "Qx7vLmT2pR\ue000", "Qx7vLmT2pR\xff"} {
		for _, mech := range []SASLMechanism{SASLScramSHA256, SASLScramSHA512} {
			_, err := saslMechanism(&SASL{Mechanism: mech, Username: "u", Password: pw})
			require.Error(t, err, "%s %q", mech, pw)
			assert.NotContains(t, err.Error(), "Qx7vLm")
			assert.Contains(t, err.Error(), "Config.SASL.Password")
			assert.Contains(t, err.Error(), "character 11")
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// With TLS 1.3, a server that requires a client certificate refuses after
// the client's side of the handshake is done: the client sees the alert on
// its first read, which must then say what to fix too.
func TestMissingClientCertificateAfterTLS13Handshake(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13,
	})
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dial := tlsDialer(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})
	conn, err := dial(ctx, "tcp", l.Addr().String())
	where := "handshake"
	if err == nil {
		where = "first read"
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = conn.Read(make([]byte, 1))
	}
	require.Error(t, err)
	t.Logf("failed at the %s: %v", where, err)
	var te *TLSError
	require.True(t, errors.As(err, &te), "%T %v", err, err)
	assert.Contains(t, te.Hint, "tls.Config.Certificates")
	assert.Equal(t, l.Addr().String(), te.Addr)

	// With a certificate, the same server accepts the connection.
	conn, err = tlsDialer(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}})(ctx, "tcp", l.Addr().String())
	require.NoError(t, err)
	_ = conn.Close()
}

// The hint about a plaintext listener is given only for a connection closed
// during the handshake, not for one that fails otherwise.
func TestTLSHintOnlyWhereTheCauseIsClear(t *testing.T) {
	t.Parallel()
	c := &tlsConn{addr: "b:1"}
	assert.Contains(t, c.hint(errors.New("EOF"), true).Error(), "TLS handshake with b:1 failed: EOF")
	assert.NotContains(t, c.hint(errors.New("boom"), true).Error(), "?")
	assert.Contains(t, c.hint(net.ErrClosed, true).Error(), "b:1")
	assert.Contains(t, c.hint(wrapEOF{}, true).Error(), "is this a TLS listener?")
	assert.NotContains(t, c.hint(wrapEOF{}, false).Error(), "is this a TLS listener?")
	assert.True(t, strings.HasPrefix(saslHint(errors.New("x"), "PLAIN").Error(), "x"))
}

// wrapEOF is an error that is io.EOF.
type wrapEOF struct{}

func (wrapEOF) Error() string { return "read: EOF" }
func (wrapEOF) Unwrap() error { return io.EOF }
