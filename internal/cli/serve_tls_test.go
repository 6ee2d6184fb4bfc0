package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that a running command and a test can share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve --tls announces an https:// base URL, keeps its certificate in
// DATA_DIR/tls/cert.pem (named in the log), and a client that trusts that
// file gets answers over HTTP/2.
func TestServeTLS(t *testing.T) {
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--tls", "--addr", "127.0.0.1:0", "--data-dir", dataDir},
			IOStreams{In: strings.NewReader(""), Out: outW, Err: &stderr})
		outW.Close()
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("serve exited %d; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop within 10s of its context ending")
		}
	}()
	lines := bufio.NewReader(outR)
	first, err := lines.ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	if err != nil || !strings.HasPrefix(first, "https://127.0.0.1:") || !strings.HasSuffix(first, "/v1\n") {
		t.Fatalf("first line of stdout %q, %v; want https://127.0.0.1:PORT/v1 (stderr:\n%s)", first, err, stderr.String())
	}
	base := strings.TrimSpace(first)

	certFile := filepath.Join(dataDir, "tls", "cert.pem")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "cert="+certFile) {
		t.Errorf("the log does not name the certificate %s:\n%s", certFile, stderr.String())
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/files", nil)
	req.Header.Set("Authorization", "Bearer sk-test")
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 {
		t.Fatalf("GET %s: %d over HTTP/%d, want 200 over HTTP/2", req.URL, res.StatusCode, res.ProtoMajor)
	}
}

// The TLS flags' mistakes are usage errors that name the flags.
func TestServeTLSUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string // in stderr
	}{
		{[]string{"--tls-cert", cert}, []string{"--tls-cert", "--tls-key"}},
		{[]string{"--tls-key", key}, []string{"--tls-cert", "--tls-key"}},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", key}, []string{"--tls-cert", "missing.pem"}},
		{[]string{"--tls-cert", cert, "--tls-key", filepath.Join(dir, "missing.pem")}, []string{"--tls-key", "missing.pem"}},
		{[]string{"--tls-cert", cert, "--tls-key", key}, []string{"--tls-cert", "--tls-key", "not a usable"}},
		{[]string{"--tls", "--tls-host", "bad_name"}, []string{"--tls-host", "bad_name"}},
		{[]string{"--tls-host", "a.test", "--tls-cert", cert, "--tls-key", key}, []string{"--tls-host", "--tls-cert"}},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, c.args...)
		code, _, stderr := run(t, context.Background(), args...)
		if code != ExitUsage {
			t.Errorf("uploads %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), code, ExitUsage, stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("uploads %s: stderr %q does not name %s", strings.Join(args, " "), stderr, w)
			}
		}
	}
}
