package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// notSentLowat bounds the bytes a connection's socket holds that TCP has not
// yet sent (TCP_NOTSENT_LOWAT): the socket takes more of a part only once
// what it holds falls below this, so the bytes counted as sent (progress,
// the stall watchdog) are on the wire or close to it, not waiting in a send
// buffer that Linux grows to 4 MiB. Bytes sent and not yet acknowledged are
// not limited by it: the congestion window, and so the throughput, is
// untouched. Under TLS it bounds the encrypted records the same way.
//
// Measured (docs/benchmarks-history.md, "Progress that follows the wire"): at
// 2 MiB/s per connection, what a part counts as sent ahead of the server
// falls from 3-4 MiB to 1-2 MiB with 1 MiB, to about 1 MiB with 16-256 KiB;
// but below 1 MiB the writer is woken for less each time and its writes go
// out in smaller segments: 16-256 KiB cost 6-9 % more client CPU in the
// far benchmark, 512 KiB 2-4 %, 1 MiB nothing measurable. No value changed
// the throughput.
const notSentLowat = 1 << 20

// maxIdleConnsPerHost is how many idle connections to the one host the
// client talks to are kept for the next request. Go's default, 2, closes
// the others when parts end together: at --concurrency 8 the client dialed
// 13-14 connections for one file of 16 parts, 26 for four files in a row,
// 177-187 for 200 small files at --jobs 8; 8 in each case with 64. 128
// covers --jobs 8 at the default concurrency (16). Over HTTPS each dial
// saved is a TLS handshake saved.
const maxIdleConnsPerHost = 128

// defaultHTTPClient carries the requests of every Client whose Config has
// neither an HTTPClient nor a CACertFile.
var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: newTransport(notSentLowat, nil)}
})

// newTransport is a clone of http.DefaultTransport that speaks HTTP/1.1
// only, keeps maxIdleConnsPerHost idle connections and resumes TLS
// sessions, and whose connections hold at most lowat unsent bytes in their
// sockets (0: the system's default, no bound; on systems without
// TCP_NOTSENT_LOWAT, always that). roots, when not nil, are the
// certificate authorities trusted instead of the system's.
//
// Why HTTP/1.1 only: the real service's edge offers HTTP/2, and Go's
// transport would then carry every part in flight as a stream of one TCP
// connection. One TCP flow over a long or lossy path gets a fraction of the
// link (its window, its losses), which is the very limit parallel parts are
// there to beat: measured through a TLS proxy adding 20 ms and capping each
// TCP connection at 10 MiB/s, a 256 MiB put took 26.05 s over HTTP/2 (one
// connection) and 3.66 s over HTTP/1.1 (eight), with 2.8x less client CPU
// (docs/benchmarks.md). With HTTP/1.1 a request has a connection to itself
// while it is in flight, so N parts travel on N TCP connections by
// construction, and the pool keeps them warm across parts and files. The
// JSON calls share the pool: on a warm connection a request costs one round
// trip either way, and one transport keeps one code path.
func newTransport(lowat int, roots *x509.CertPool) *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	t.MaxIdleConns = maxIdleConnsPerHost // the client talks to one host
	t.ForceAttemptHTTP2 = false
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.TLSClientConfig = &tls.Config{
		RootCAs: roots,
		// A resumed session skips the certificate exchange and its
		// verification on a new connection to a server seen before.
		ClientSessionCache: tls.NewLRUClientSessionCache(maxIdleConnsPerHost),
		MinVersion:         tls.VersionTLS12,
	}
	// The timeouts of http.DefaultTransport's own dialer.
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if lowat > 0 {
		d.Control = notSentLowatControl(lowat)
	}
	t.DialContext = d.DialContext
	return t
}

// caClients are the HTTP clients made for a CA file, one per file, so that
// every Client of a process that trusts the same file shares one pool.
var caClients sync.Map // path → *http.Client

// httpClientFor returns the HTTP client of a Config without its own: the
// default one, or one that trusts the certificates of caFile besides the
// system's.
func httpClientFor(caFile string) (*http.Client, error) {
	if caFile == "" {
		return defaultHTTPClient(), nil
	}
	if c, ok := caClients.Load(caFile); ok {
		return c.(*http.Client), nil
	}
	roots, err := LoadCACert(caFile)
	if err != nil {
		return nil, err
	}
	c, _ := caClients.LoadOrStore(caFile, &http.Client{Transport: newTransport(notSentLowat, roots)})
	return c.(*http.Client), nil
}

// LoadCACert returns the system's certificate authorities (on Linux, those
// of SSL_CERT_FILE and SSL_CERT_DIR when set) plus the PEM certificates of
// path, for a server whose certificate a private CA signed (such as
// `uploads serve --tls`'s own).
func LoadCACert(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &CACertError{Path: path, Err: err}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &CACertError{Path: path, Err: errors.New("no PEM certificate in it (expected a file with -----BEGIN CERTIFICATE----- blocks)")}
	}
	return pool, nil
}

// CACertError is a CA certificate file that cannot be used.
type CACertError struct {
	Path string
	Err  error
}

func (e *CACertError) Error() string {
	if errors.Is(e.Err, os.ErrNotExist) || errors.Is(e.Err, os.ErrPermission) {
		return "CA certificate: " + e.Err.Error()
	}
	return fmt.Sprintf("CA certificate %s: %v", e.Path, e.Err)
}

func (e *CACertError) Unwrap() error { return e.Err }

// IsCertificateError reports whether err is a failure to trust the
// server's certificate: sending again cannot help; trusting its CA can.
func IsCertificateError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
	)
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
