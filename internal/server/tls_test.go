package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var testHosts = []string{"localhost", "127.0.0.1", "::1"}

// A first start makes the certificate and key, private, and a certificate a
// client can trust as a root; the next start reuses them.
func TestSelfSignedIsMadeThenReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	cert, made, err := selfSigned(dir, testHosts, now)
	if err != nil || !made {
		t.Fatalf("first start: made %v, %v", made, err)
	}
	leaf := cert.Leaf
	if !leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign == 0 || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("IsCA %v, key usage %b, ext key usage %v: want a CA for server auth", leaf.IsCA, leaf.KeyUsage, leaf.ExtKeyUsage)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if d := leaf.NotAfter.Sub(now); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("valid for %v more, want a year", d)
	}
	for _, h := range testHosts {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("does not cover %s: %v", h, err)
		}
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, keyFileName): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, st.Mode().Perm(), err, want)
		}
	}

	again, made, err := selfSigned(dir, testHosts[:1], now.Add(time.Hour))
	if err != nil || made || !bytes.Equal(again.Leaf.Raw, leaf.Raw) {
		t.Fatalf("second start (names covered): made %v, %v; want the same certificate", made, err)
	}
}

// A certificate that does not cover a name asked for, expires within a
// day, or whose key does not match, is replaced.
func TestSelfSignedIsRemade(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, _, err := selfSigned(dir, testHosts, now)
	if err != nil {
		t.Fatal(err)
	}
	more := append(slices.Clone(testHosts), "uploads.test", "192.0.2.7")
	cert, made, err := selfSigned(dir, more, now)
	if err != nil || !made || bytes.Equal(cert.Leaf.Raw, first.Leaf.Raw) {
		t.Fatalf("new names: made %v, %v; want a new certificate", made, err)
	}
	for _, h := range more {
		if err := cert.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("does not cover %s: %v", h, err)
		}
	}
	if _, made, err := selfSigned(dir, more, cert.Leaf.NotAfter.Add(-12*time.Hour)); err != nil || !made {
		t.Fatalf("12 hours before expiry: made %v, %v; want a new certificate", made, err)
	}
	_, otherKey, err := newSelfSigned(testHosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, keyFileName), otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, made, err := selfSigned(dir, more, now); err != nil || !made {
		t.Fatalf("a key of another certificate: made %v, %v; want a new pair", made, err)
	}
}

func TestCertHostsAndCheckTLSHost(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:0":         "localhost 127.0.0.1 ::1",
		"0.0.0.0:8089":        "localhost 127.0.0.1 ::1",
		"[::]:8089":           "localhost 127.0.0.1 ::1",
		":8089":               "localhost 127.0.0.1 ::1",
		"192.0.2.7:443":       "localhost 127.0.0.1 ::1 192.0.2.7",
		"uploads.test:8089":   "localhost 127.0.0.1 ::1 uploads.test",
		"[::1]:8089":          "localhost 127.0.0.1 ::1",
		"[fe80::1%eth0]:8089": "localhost 127.0.0.1 ::1 fe80::1",
	} {
		if got := strings.Join(certHosts(addr, nil), " "); got != want {
			t.Errorf("certHosts(%q) = %s, want %s", addr, got, want)
		}
	}
	for _, ok := range []string{"uploads.test", "a-b.c9", "192.0.2.7", "::1", "LOCALHOST"} {
		if err := CheckTLSHost(ok); err != nil {
			t.Errorf("CheckTLSHost(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a..b", "-a.b", "a_b", "host:8089", "uploads.test.", "a b", strings.Repeat("a", 64)} {
		if err := CheckTLSHost(bad); err == nil {
			t.Errorf("CheckTLSHost(%q) accepted", bad)
		}
	}
}

// runTLS runs the server with o until the test ends and returns its base URL.
func runTLS(t *testing.T, o Options) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	o.Addr, o.Ready = "127.0.0.1:0", func(u string) { ready <- u }
	go func() { done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case u := <-ready:
		return u
	case err := <-done:
		done <- err
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not get ready")
	}
	return ""
}

// trusting is a client that trusts the certificate in certFile; h2 offers
// HTTP/2 as well as HTTP/1.1.
func trusting(t *testing.T, certFile string, h2 bool) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", certFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"} // as curl --http1.1
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get GETs url and checks the answer is a 200 over HTTP/major.
func get(t *testing.T, c *http.Client, url string, major int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer sk-test")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	res.Body.Close()
	wantALPN := map[int]string{1: "http/1.1", 2: "h2"}[major]
	if res.StatusCode != http.StatusOK || res.ProtoMajor != major || res.TLS == nil || res.TLS.NegotiatedProtocol != wantALPN {
		t.Fatalf("GET %s: %d over HTTP/%d; want 200 over HTTP/%d (ALPN %s)", url, res.StatusCode, res.ProtoMajor, major, wantALPN)
	}
}

// With TLSSelfSigned, the server announces https://, and a client that
// trusts DATA_DIR/tls/cert.pem gets HTTP/2 by ALPN, or HTTP/1.1 when it
// offers only that.
func TestRunServesHTTPSWithHTTP2(t *testing.T) {
	dataDir := t.TempDir()
	base := runTLS(t, Options{DataDir: dataDir, TLSSelfSigned: true, Throttle: 64 << 20, ThrottleLink: 128 << 20})
	if !strings.HasPrefix(base, "https://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("base URL %q, want https://127.0.0.1:PORT/v1", base)
	}
	certFile := SelfSignedCertPath(dataDir)
	root := strings.TrimSuffix(base, "/v1")
	get(t, trusting(t, certFile, true), root+"/healthz", 2)
	get(t, trusting(t, certFile, true), base+"/files", 2)
	get(t, trusting(t, certFile, false), base+"/files", 1)
	if _, err := http.Get(root + "/healthz"); err == nil {
		t.Fatal("a client that does not trust the certificate got an answer")
	}
}

// With a given certificate and key, the server uses them; one without the
// other is an error.
func TestRunServesHTTPSWithTheGivenPair(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := selfSigned(dir, testHosts, time.Now()); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, certFileName), filepath.Join(dir, keyFileName)
	dataDir := t.TempDir()
	endpoint := runTLS(t, Options{Config: Config{Azure: true}, DataDir: dataDir, TLSCertFile: certFile, TLSKeyFile: keyFile})
	if !strings.HasPrefix(endpoint, "https://127.0.0.1:") || strings.Count(endpoint, "/") != 2 {
		t.Fatalf("endpoint %q, want https://127.0.0.1:PORT", endpoint)
	}
	get(t, trusting(t, certFile, true), endpoint+"/healthz", 2)
	if _, err := os.Stat(filepath.Join(dataDir, tlsDirName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a self-signed certificate was made besides the given one: %v", err)
	}
	err := Run(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), TLSCertFile: certFile})
	if !errors.Is(err, errTLSPair) {
		t.Fatalf("Run with a certificate and no key: %v, want %v", err, errTLSPair)
	}
}
