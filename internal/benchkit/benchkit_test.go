package benchkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for `uploads serve` (see
// fakeServe) when BENCHKIT_FAKE_SERVE is set.
func TestMain(m *testing.M) {
	if os.Getenv("BENCHKIT_FAKE_SERVE") != "" {
		fakeServe()
		return
	}
	os.Exit(m.Run())
}

// fakeServe serves /healthz and a file's content as `uploads serve --addr
// 127.0.0.1:0 --data-dir DIR --quiet [--tls]` would: over HTTPS with --tls,
// its certificate in DIR/tls/cert.pem; it prints its base URL, then serves
// until killed.
func fakeServe() {
	var dataDir string
	useTLS := false
	for i, a := range os.Args {
		switch a {
		case "--data-dir":
			dataDir = os.Args[i+1]
		case "--tls":
			useTLS = true
		}
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	if useTLS {
		ts.StartTLS()
		dir := filepath.Join(dataDir, "tls")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			panic(err)
		}
		cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
		if err := os.WriteFile(filepath.Join(dir, "cert.pem"), cert, 0o644); err != nil {
			panic(err)
		}
	} else {
		ts.Start()
	}
	os.Stdout.WriteString(ts.URL + "/v1\n")
	select {}
}

func TestStartServer(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BENCHKIT_FAKE_SERVE=1")
	for _, useTLS := range []bool{false, true} {
		dataDir := t.TempDir()
		var flags []string
		if useTLS {
			flags = append(flags, "--tls")
		}
		s, err := StartServer(t.Context(), bin, dataDir, env, flags...)
		if err != nil {
			t.Fatalf("tls %v: %v", useTLS, err)
		}
		wantCA, scheme := "", "http://"
		if useTLS {
			wantCA, scheme = filepath.Join(dataDir, "tls", "cert.pem"), "https://"
		}
		if s.CACert != wantCA || !strings.HasPrefix(s.BaseURL, scheme) || s.Port == 0 {
			t.Errorf("tls %v: BaseURL %q, Port %d, CACert %q; want %s…, a port, %q", useTLS, s.BaseURL, s.Port, s.CACert, scheme, wantCA)
		}
		if sum, n, err := s.ContentMD5(t.Context(), "sk-x", "file-1"); err != nil || sum != "5d41402abc4b2a76b9719d911017c592" || n != 5 {
			t.Errorf("tls %v: content %d bytes, MD5 %s, %v; want hello", useTLS, n, sum, err)
		}
		s.Stop()
	}
}

func TestParseBaseURL(t *testing.T) {
	for _, tc := range []struct {
		url    string
		scheme string
		port   int
	}{
		{"http://127.0.0.1:8089/v1", "http", 8089},
		{"https://127.0.0.1:443/v1", "https", 443},
		{"https://localhost:443/v1", "", 0},
		{"ftp://127.0.0.1:21/v1", "", 0},
		{"http://127.0.0.1:8089", "", 0},
		{"http://127.0.0.1:0/v1", "", 0},
		{"http://127.0.0.1:x/v1", "", 0},
	} {
		scheme, port, ok := parseBaseURL(tc.url)
		if ok != (tc.scheme != "") || scheme != tc.scheme || port != tc.port {
			t.Errorf("parseBaseURL(%q) = %q, %d, %v; want %q, %d", tc.url, scheme, port, ok, tc.scheme, tc.port)
		}
	}
}

// TestServerTLS checks that a Server's requests trust its CACert, and only
// it, and keep no connection open.
func TestServerTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-x" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "hello")
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the untrusting client fails
	ts.StartTLS()
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{BaseURL: ts.URL + "/v1", CACert: ca}
	tr := &http.Transport{DisableKeepAlives: true}
	s.client = &http.Client{Transport: tr}
	if err := s.trust(tr); err != nil {
		t.Fatal(err)
	}
	sum, n, err := s.ContentMD5(t.Context(), "sk-x", "file-1")
	if err != nil || n != 5 || sum != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("ContentMD5 = %s, %d, %v; want the MD5 of hello", sum, n, err)
	}
	if env := s.TrustEnv(); !slices.Equal(env, []string{"SSL_CERT_FILE=" + ca}) {
		t.Errorf("TrustEnv() = %q", env)
	}
	// Without the certificate trusted, the same request fails.
	plain := &Server{BaseURL: ts.URL + "/v1", client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}}
	if _, _, err := plain.ContentMD5(t.Context(), "sk-x", "file-1"); err == nil {
		t.Error("ContentMD5 trusted a certificate it was not given")
	}
	if env := plain.TrustEnv(); env != nil {
		t.Errorf("TrustEnv() over HTTP = %q, want nothing", env)
	}
}

func TestEstablishedTo(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F99 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F99 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C350 0100007F:1F99 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F99 0100007F:C351 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000
   4: 0100007F:1F99 0100007F:C352 01 00000000:00000000 00:00000000 00000000  1000        0 4 1 0000000000000000 20 4 30 10 -1
`)
	got := establishedTo(table, "1F99")
	if want := []string{"0100007F:C350", "0100007F:C352"}; !slices.Equal(got, want) {
		t.Errorf("establishedTo = %q, want %q (the server's ends, established)", got, want)
	}
}

// TestSampleConns opens three connections to a listener, closes one and
// opens another: three at most at once, four in all.
func TestSampleConns(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s := SampleConns(ln.Addr().(*net.TCPAddr).Port, 5*time.Millisecond)
	var d net.Dialer
	dial := func() net.Conn {
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	conns := []net.Conn{dial(), dial(), dial()}
	time.Sleep(50 * time.Millisecond)
	conns[0].Close()
	time.Sleep(50 * time.Millisecond)
	conns[0] = dial()
	time.Sleep(50 * time.Millisecond)
	most, distinct, ok := s.Stop()
	for _, c := range conns {
		c.Close()
	}
	if !ok || most != 3 || distinct != 4 {
		t.Errorf("Stop() = %d at most, %d distinct, %v; want 3, 4, true", most, distinct, ok)
	}
}
