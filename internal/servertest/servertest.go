// Package servertest starts the bundled Uploads server in-process on a
// loopback port for tests, with a fresh data directory, a clock the test
// can move, and whatever wrappers (faults, latency, a test's own proxy
// logic) the test puts around the API's handler.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/store"
)

// Clock is a settable time source. The zero Clock follows the real time
// until Advance is first called.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the real time plus every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Server is a running test server.
type Server struct {
	*httptest.Server
	Store *store.Store
	Clock *Clock
	// API is the API's own handler, without the wrappers.
	API *server.Server
	// Handler is what the listener serves: API inside the wrappers.
	Handler http.Handler
	// BaseURL is URL + "/v1".
	BaseURL string
	// DataDir is the store's directory.
	DataDir string
	// CAFile, for a server started with StartTLS, is a PEM file of its
	// certificate, which a client trusts with SSL_CERT_FILE or --ca-cert.
	CAFile string

	conns atomic.Int64
}

// Conns is how many TCP connections the server has accepted so far.
func (s *Server) Conns() int64 { return s.conns.Load() }

// Start runs a server with cfg (its Store is filled in) on a fresh temporary
// data directory; it stops when the test ends. The wrappers go around the
// API's handler, the first innermost:
//
//	inj, _ := faults.New(faults.Config{Rate: 0.3, Kinds: []faults.Kind{faults.Lost}})
//	s := servertest.Start(t, server.Config{}, inj.Wrap, func(h http.Handler) http.Handler {
//		return faults.Latency(20*time.Millisecond, h)
//	})
func Start(t testing.TB, cfg server.Config, wraps ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	return StartIn(t, t.TempDir(), cfg, wraps...)
}

// StartIn is Start on a given data directory (to restart on the same data).
func StartIn(t testing.TB, dir string, cfg server.Config, wraps ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	return start(t, dir, false, cfg, wraps...)
}

// StartTLS is Start over HTTPS with HTTP/2 offered by ALPN, as the real
// service's edge does; CAFile is the certificate to trust, and Client()
// trusts it already.
func StartTLS(t testing.TB, cfg server.Config, wraps ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	return start(t, t.TempDir(), true, cfg, wraps...)
}

func start(t testing.TB, dir string, useTLS bool, cfg server.Config, wraps ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	clock := &Clock{}
	st, err := store.Open(dir, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	cfg.Store = st
	srv := server.New(cfg)
	var h http.Handler = srv
	for _, w := range wraps {
		h = w(h)
	}
	hs := httptest.NewUnstartedServer(h)
	s := &Server{Server: hs, Store: st, Clock: clock, API: srv, Handler: h, DataDir: dir}
	hs.Config.ConnState = func(_ net.Conn, cs http.ConnState) {
		if cs == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		hs.EnableHTTP2 = true
		hs.StartTLS()
		s.CAFile = filepath.Join(t.TempDir(), "server-ca.pem")
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
		if err := os.WriteFile(s.CAFile, block, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		hs.Start()
	}
	s.BaseURL = hs.URL + "/v1"
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the server and its store; it is safe to call twice.
func (s *Server) Stop() {
	s.Close()
	_ = s.Store.Close()
}

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map (failing the test if it is not a
// JSON object).
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer (%d) is not a JSON object: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// Do sends a request with key as the bearer key ("" for none) and reads the
// whole answer. A body of type []byte or string is sent as is with
// contentType; any other non-nil body is sent as JSON.
func (s *Server) Do(t testing.TB, method, path, key string, body any, contentType string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.BaseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Send sends a request built by the test (any URL, such as an Azure-mode
// path under s.URL, and any headers) and reads the whole answer.
func (s *Server) Send(t testing.TB, req *http.Request) Response {
	t.Helper()
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", req.Method, req.URL.Path, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}
