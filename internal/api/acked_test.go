package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"sync"
	"testing"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// What a part's Wire counts as acknowledged never runs ahead of what the
// server has read from the connection by more than the server's receive
// buffer (the kernel acknowledges the bytes it queues there): checked at
// every read of the body, against a server that takes 1 MiB/s per
// connection and keeps its receive buffer at 256 KiB (Linux doubles it to
// 512 KiB, the most its queue holds). Once the part is accepted, the Wire
// counts all of it. On Linux the count comes from TCP_INFO.
func TestWireCountsWhatTheServerRead(t *testing.T) {
	const (
		rate     = 1 << 20
		slack    = 2 * rate / 4 // the receive buffer wireServer sets, doubled
		partSize = 3 << 20
	)
	ws := startWireServer(t, rate)
	c, err := New(Config{BaseURL: ws.url, APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	up, err := c.CreateUpload(ctx, NewUpload{Filename: "wire.bin", Purpose: "video", Bytes: partSize, MimeType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, partSize)
	_, _ = rand.Read(data)

	w := new(Wire)
	var (
		mu         sync.Mutex
		addr       string
		base       int64 // the server's count on the connection before the request
		last, most int64 // the Wire's latest figure; how far it ran ahead of the server
		tcpInfo    bool  // the Wire read TCP_INFO
		failed     string
	)
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		mu.Lock()
		addr = info.Conn.LocalAddr().String()
		base = ws.readFrom(addr)
		mu.Unlock()
	}})
	body := Section(bytes.NewReader(data), 0, partSize)
	body.Wire = w
	body.OnRead = func(int) {
		a := w.Acked()
		mu.Lock()
		defer mu.Unlock()
		got := ws.readFrom(addr) - base // read after Acked: it can only have grown
		most = max(most, a-got)
		switch {
		case a < last:
			failed = "the count went back"
		case a > got+slack:
			failed = "the count ran ahead of the server by more than its receive buffer"
		}
		last = a
		w.mu.Lock()
		tcpInfo = tcpInfo || w.base >= 0
		w.mu.Unlock()
	}
	if _, err := c.AddPart(tctx, up.ID, body); err != nil {
		t.Fatal(err)
	}
	t.Logf("acknowledged ran at most %d KiB ahead of the server's reads (slack %d KiB)", most>>10, slack>>10)
	if failed != "" {
		t.Error(failed)
	}
	if got := w.Acked(); got != partSize {
		t.Errorf("accepted part: Acked = %d, want %d", got, partSize)
	}
	if runtime.GOOS == "linux" && !tcpInfo {
		t.Error("the Wire did not read TCP_INFO")
	}
}

// Through an HTTPS proxy's CONNECT tunnel the request's connection is TLS
// to the server inside TLS to the proxy, over TCP to the proxy: the Wire
// finds that TCP socket and counts what the proxy acknowledged.
func TestWireThroughAnHTTPSProxy(t *testing.T) {
	s := servertest.StartTLS(t, server.Config{Strict: true})
	var tunnels sync.WaitGroup
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(rw, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		rw.WriteHeader(http.StatusOK)
		down, brw, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			_ = up.Close()
			return
		}
		tunnels.Add(2)
		go func() { defer tunnels.Done(); _, _ = io.Copy(up, brw); _ = up.(*net.TCPConn).CloseWrite() }()
		go func() { defer tunnels.Done(); _, _ = io.Copy(down, up); _ = down.Close() }()
	}))
	defer func() { proxy.CloseClientConnections(); proxy.Close(); tunnels.Wait() }()
	proxyURL, _ := url.Parse(proxy.URL)

	// httptest's servers share one certificate.
	roots := x509.NewCertPool()
	roots.AddCert(proxy.Certificate())
	tr := newTransport(notSentLowat, roots)
	tr.Proxy = http.ProxyURL(proxyURL)
	defer tr.CloseIdleConnections()
	c, err := New(Config{BaseURL: s.BaseURL, APIKey: "sk-test", HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const partSize = 256 << 10
	up, err := c.CreateUpload(ctx, NewUpload{Filename: "wire.bin", Purpose: "video", Bytes: partSize, MimeType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	var found, tlsOn bool
	var layers int
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		for conn := info.Conn; ; layers++ {
			tc, ok := conn.(*tls.Conn)
			if !ok {
				break
			}
			conn = tc.NetConn()
		}
		rc, on := socketOf(info.Conn)
		found, tlsOn = rc != nil, on
	}})
	w := new(Wire)
	body := Section(bytes.NewReader(make([]byte, partSize)), 0, partSize)
	body.Wire = w
	if _, err := c.AddPart(tctx, up.ID, body); err != nil {
		t.Fatal(err)
	}
	if layers != 2 || !found || !tlsOn {
		t.Errorf("%d TLS layers; TCP socket found: %v, TLS: %v; want 2, true, true", layers, found, tlsOn)
	}
	if got := w.Acked(); got != partSize {
		t.Errorf("Acked = %d, want %d", got, partSize)
	}
}

type wrappedConn struct{ net.Conn }

func (c wrappedConn) NetConn() net.Conn { return c.Conn }

// socketOf finds the TCP socket under TLS and under wrappers that expose
// what they wrap, and nothing under a connection of another kind.
func TestSocketOf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	tcp, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	for _, tc := range []struct {
		name       string
		conn       net.Conn
		found, tls bool
	}{
		{"tcp", tcp, true, false},
		{"tls", tls.Client(tcp, &tls.Config{}), true, true},
		{"tls in tls", tls.Client(tls.Client(tcp, &tls.Config{}), &tls.Config{}), true, true},
		{"wrapped", wrappedConn{tcp}, true, false},
		{"pipe", p1, false, false},
		{"tls over a pipe", tls.Client(p1, &tls.Config{}), false, true},
	} {
		rc, on := socketOf(tc.conn)
		if (rc != nil) != tc.found || on != tc.tls {
			t.Errorf("%s: socket found %v, TLS %v; want %v, %v", tc.name, rc != nil, on, tc.found, tc.tls)
		}
	}
}

// Where the system does not tell what the peer acknowledged, a Wire
// counts the bytes read less what the client's side can hold: the
// socket's send buffer when known (else defaultSendBuffer) and
// heldInProcess, at least 0; its count never goes back.
func TestWireWithoutTCPInfo(t *testing.T) {
	const size = 16 << 20
	head := int64(200)
	body := newWatchedBody(bytes.NewReader(nil), nil)
	w := new(Wire)
	w.begin(body, head, size)
	body.n.Store(head + 1<<20)
	if got := w.Acked(); got != 0 {
		t.Errorf("1 MiB read, no connection: Acked = %d, want 0", got)
	}
	body.n.Store(head + 10<<20)
	if got, want := w.Acked(), int64(10<<20-defaultSendBuffer-heldInProcess); got != want {
		t.Errorf("10 MiB read, no connection: Acked = %d, want %d", got, want)
	}

	// A TCP connection whose acknowledged count is unknown (base -1): its
	// send buffer is the bound.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc, _ := socketOf(conn)
	held := int64(defaultSendBuffer)
	if n, ok := sendBufferSize(rc); ok {
		held = n
	}
	w.begin(body, head, size)
	w.conn = rc // as gotConn does when TCP_INFO fails
	body.n.Store(head + 12<<20)
	want := min(max(12<<20-held-heldInProcess, 0), size)
	if got := w.Acked(); got != want {
		t.Errorf("12 MiB read, send buffer %d: Acked = %d, want %d", held, got, want)
	}
	w.end(false)
	body.n.Store(head + size)
	if got := w.Acked(); got != want {
		t.Errorf("after a failed attempt: Acked = %d, want the last figure, %d", got, want)
	}
	w.begin(body, head, size)
	w.end(true)
	if got := w.Acked(); got != size {
		t.Errorf("after an accepted attempt: Acked = %d, want %d", got, size)
	}
}

// requestHeadLen is exact for a request as the transport writes it.
func TestRequestHeadLen(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "http://example.com/v1/uploads/upload_1/parts", bytes.NewReader(make([]byte, 10)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-test")
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	// req.Write writes what the transport does but Accept-Encoding.
	want := int64(bytes.Index(buf.Bytes(), []byte("\r\n\r\n"))+4) + int64(len("Accept-Encoding: gzip\r\n"))
	if got := requestHeadLen(req); got != want {
		t.Errorf("requestHeadLen = %d, want %d:\n%s", got, want, buf.Bytes()[:want-23])
	}
}
