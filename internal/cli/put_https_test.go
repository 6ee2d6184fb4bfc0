package cli_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// connGate holds each part request until n are in flight together, and
// notes the connection and protocol each came on.
type connGate struct {
	n       int
	mu      sync.Mutex
	arrived int
	remotes map[string]bool
	protos  map[string]bool
	all     chan struct{}
}

func (g *connGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") {
			g.mu.Lock()
			g.arrived++
			if g.arrived <= g.n {
				g.remotes[r.RemoteAddr] = true
			}
			g.protos[r.Proto] = true
			if g.arrived == g.n {
				close(g.all)
			}
			g.mu.Unlock()
			select {
			case <-g.all:
			case <-time.After(30 * time.Second): // fails below: fewer than n came together
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Over HTTPS with HTTP/2 offered (the real service's edge), the parts in
// flight of `uploads put --concurrency N` travel on N TCP connections, and
// the connections are kept for the next parts rather than dialed again.
func TestPutPartsTravelOnSeparateConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const n = 4
	gate := &connGate{n: n, remotes: map[string]bool{}, protos: map[string]bool{}, all: make(chan struct{})}
	s := servertest.StartTLS(t, server.Config{Strict: true}, gate.wrap, latency(10*time.Millisecond))
	path, data := sampleFile(t, 6<<20) // 12 parts of 512 KiB: three rounds
	p := startPut(t, s, []string{"XDG_STATE_HOME=" + t.TempDir()}, nil,
		path, "--purpose", "video", "--part-size", "512KiB", "--concurrency", "4")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.raw.String())
	}
	checkContent(t, s, p.stdout.String(), data)
	if len(gate.remotes) != n {
		t.Errorf("%d parts in flight came on %d TCP connections, want %d", n, len(gate.remotes), n)
	}
	if len(gate.protos) != 1 || !gate.protos["HTTP/1.1"] {
		t.Errorf("parts came as %v, want HTTP/1.1 only (each part a connection of its own)", gate.protos)
	}
	// create, 12 parts and complete: the connections of the first round
	// serve the rest (one more for the create at most).
	if c := s.Conns(); c > n+1 {
		t.Errorf("the put dialed %d connections for %d parts in flight, want at most %d (idle connections kept)", c, n, n+1)
	}
}

// connectProxy is an HTTP proxy that tunnels CONNECT requests to a loopback
// port (whatever host the client names), as a corporate HTTPS_PROXY would.
type connectProxy struct {
	mu      sync.Mutex
	targets map[string]int // host:port asked for → tunnels
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.targets[r.Host]++
	p.mu.Unlock()
	up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() {
		_, _ = io.Copy(up, buf)
		_ = up.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(conn, up)
	conn.Close()
	up.Close()
}

// HTTPS_PROXY keeps working: put reaches the server through a CONNECT
// tunnel, with its parts on their own tunnels. (Go sends no proxy requests
// for loopback names, so the server is named example.com, for which the
// test server's certificate is made; the proxy alone resolves it, to
// 127.0.0.1.)
func TestPutThroughHTTPSProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	s := servertest.StartTLS(t, server.Config{Strict: true}, latency(5*time.Millisecond))
	proxy := &connectProxy{targets: map[string]int{}}
	ps := httptest.NewServer(proxy)
	defer ps.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "https://"))
	base := "https://example.com:" + port + "/v1"
	path, data := sampleFile(t, 3<<20)
	p := startPut(t, s, []string{"XDG_STATE_HOME=" + t.TempDir(), "OPENAI_BASE_URL=" + base,
		"HTTPS_PROXY=" + ps.URL, "https_proxy=", "NO_PROXY=", "no_proxy="}, nil,
		path, "--purpose", "video", "--part-size", "512KiB", "--concurrency", "3")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.raw.String())
	}
	checkContent(t, s, p.stdout.String(), data)
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if got := proxy.targets["example.com:"+port]; got < 3 {
		t.Errorf("the proxy tunnelled %v, want at least 3 tunnels to example.com:%s (one per part in flight)", proxy.targets, port)
	}
}
