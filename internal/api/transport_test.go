package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// partGate holds each part request until n have arrived together, and
// records the connection and protocol of each.
type partGate struct {
	n       int
	mu      sync.Mutex
	remotes map[string]bool
	protos  map[string]bool
	arrived int
	all     chan struct{}
}

func newPartGate(n int) *partGate {
	return &partGate{n: n, remotes: map[string]bool{}, protos: map[string]bool{}, all: make(chan struct{})}
}

func (g *partGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") {
			g.mu.Lock()
			g.remotes[r.RemoteAddr] = true
			g.protos[r.Proto] = true
			if g.arrived++; g.arrived == g.n {
				close(g.all)
			}
			g.mu.Unlock()
			select {
			case <-g.all:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Over HTTPS with HTTP/2 offered, as the real service's edge does, N parts
// in flight travel on N TCP connections (HTTP/1.1), not as N streams of one
// connection; the connections are kept for the next parts.
func TestPartsInFlightUseOneConnectionEach(t *testing.T) {
	const n = 6
	gate := newPartGate(n)
	s := servertest.StartTLS(t, server.Config{Strict: true}, gate.wrap)
	c, err := New(Config{BaseURL: s.BaseURL, APIKey: "sk-test", CACertFile: s.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	part := bytes.Repeat([]byte("x"), 64<<10)
	u, err := c.CreateUpload(ctx, NewUpload{Filename: "a.bin", Purpose: "assistants", Bytes: int64(2 * n * len(part)), MimeType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	send := func() {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := c.AddPart(ctx, u.ID, Section(bytes.NewReader(part), 0, int64(len(part))))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	send()
	if len(gate.remotes) != n {
		t.Errorf("%d parts in flight came on %d TCP connections, want one each", n, len(gate.remotes))
	}
	if !gate.protos["HTTP/1.1"] || len(gate.protos) != 1 {
		t.Errorf("parts came as %v, want HTTP/1.1 only", gate.protos)
	}
	// A second round of parts reuses the warm connections (no new TLS
	// handshakes); the upload's create was one more connection at most.
	before := s.Conns()
	gate2 := newPartGate(n)
	gate.mu.Lock()
	gate.n, gate.arrived, gate.all = gate2.n, 0, gate2.all
	gate.mu.Unlock()
	send()
	if after := s.Conns(); after != before {
		t.Errorf("the second round of %d parts dialed %d new connections, want 0 (idle connections kept)", n, after-before)
	}
}

// A server whose certificate is not trusted fails at once with an error
// that says so, without the SDK's retries (one connection, where 4 retries
// would dial 5 and wait seconds); --ca-cert's file makes it trusted.
func TestUntrustedServer(t *testing.T) {
	s := servertest.StartTLS(t, server.Config{Strict: true})
	c, err := New(Config{BaseURL: s.BaseURL, APIKey: "sk-test", MaxRetries: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFile(context.Background(), "file-1")
	if !IsCertificateError(err) {
		t.Fatalf("error %v: want a certificate error", err)
	}
	if n := s.Conns(); n != 1 {
		t.Errorf("the client dialed %d times, want once: a certificate error is not retried", n)
	}
	if got := Classify(context.Background(), err); got != Other {
		t.Errorf("Classify = %v, want Other (sending again cannot help)", got)
	}

	bad := filepath.Join(t.TempDir(), "not-a-cert.pem")
	if err := os.WriteFile(bad, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{BaseURL: s.BaseURL, APIKey: "sk-test", CACertFile: bad})
	var ce *CACertError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a file without a certificate: %v, want a CACertError that says so", err)
	}
	_, err = New(Config{BaseURL: s.BaseURL, APIKey: "sk-test", CACertFile: filepath.Join(t.TempDir(), "missing.pem")})
	if !errors.As(err, &ce) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want a CACertError for a missing file", err)
	}
}
