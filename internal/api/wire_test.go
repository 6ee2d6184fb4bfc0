package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/store"
)

// wireServer is the bundled server (--strict) behind faults.ThrottleListener,
// so that each connection delivers at most a given rate, as a far-away link
// would; underneath the throttle it counts, per connection, the bytes the
// server has taken from its socket.
type wireServer struct {
	url  string
	mu   sync.Mutex
	read map[string]*atomic.Int64 // by the client's address
}

func startWireServer(t testing.TB, bytesPerSecond int64) *wireServer {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ws := &wireServer{read: map[string]*atomic.Int64{}}
	hs := httptest.NewUnstartedServer(server.New(server.Config{Strict: true, Store: st}))
	hs.Listener = faults.ThrottleListener(&countingListener{Listener: hs.Listener, ws: ws, rate: bytesPerSecond}, bytesPerSecond)
	hs.Start()
	ws.url = hs.URL + "/v1"
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close(); _ = st.Close() })
	return ws
}

// readFrom is how many bytes the server has read from the connection whose
// client end is addr.
func (ws *wireServer) readFrom(addr string) int64 {
	ws.mu.Lock()
	n := ws.read[addr]
	ws.mu.Unlock()
	if n == nil {
		return 0
	}
	return n.Load()
}

type countingListener struct {
	net.Listener
	ws   *wireServer
	rate int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// The receive buffer faults.ThrottleListener gives a connection (it
	// cannot see the TCP connection through this wrapper).
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(int(max(min(l.rate/4, 4<<20), 16<<10)))
	}
	n := new(atomic.Int64)
	l.ws.mu.Lock()
	l.ws.read[c.RemoteAddr().String()] = n
	l.ws.mu.Unlock()
	return &countingConn{Conn: c, n: n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// wireGap is what measureWireGap saw of each part: ahead is how many of the
// part's bytes the client had counted as sent (handed to its connection,
// what progress shows) but the server had not yet read from its socket, at
// the moment the last byte was counted; most is the largest such gap seen
// while the part was on its way (sampled every 10 ms); tail is the time
// from the last byte counted to the server's answer. sock holds, where the
// kernel tells (Linux), the largest of each figure of the client's socket
// seen by the same samples.
type wireGap struct {
	ahead, most []int64
	tail        []time.Duration
	sock        []sockStat
	took        time.Duration
}

// measureWireGap sends parts parts of partSize bytes at once, each on its
// own connection, to ws through hc (nil: the default client of New).
func measureWireGap(t testing.TB, ws *wireServer, hc *http.Client, parts int, partSize int64) wireGap {
	t.Helper()
	c, err := New(Config{BaseURL: ws.url, APIKey: "sk-test", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	up, err := c.CreateUpload(ctx, NewUpload{Filename: "wire.bin", Purpose: "video", Bytes: int64(parts) * partSize, MimeType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, partSize)
	_, _ = rand.Read(data)
	f := newFrame()
	framed := int64(len(f.head)) + partSize + int64(len(f.tail))

	type track struct {
		addr     atomic.Pointer[string]
		conn     atomic.Pointer[net.Conn]
		base     atomic.Int64 // the server's count on the connection before this request
		sent     atomic.Int64
		doneAt   atomic.Int64 // UnixNano
		ahead    atomic.Int64
		most     atomic.Int64
		answered atomic.Int64 // UnixNano
		sock     sockStat     // the sampler's until it ends
	}
	tracks := make([]*track, parts)
	for i := range tracks {
		tracks[i] = &track{}
	}
	gap := func(tr *track) int64 {
		addr := tr.addr.Load()
		if addr == nil {
			return 0
		}
		// The server's count includes the request's header (a few hundred
		// bytes): the gap is that much smaller than the truth.
		return tr.sent.Load() - (ws.readFrom(*addr) - tr.base.Load())
	}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for _, tr := range tracks {
					if g := gap(tr); g > tr.most.Load() {
						tr.most.Store(g)
					}
					if c := tr.conn.Load(); c != nil && tr.answered.Load() == 0 {
						if st, ok := readSockStat(*c); ok {
							tr.sock.notSent = max(tr.sock.notSent, st.notSent)
							tr.sock.inFlight = max(tr.sock.inFlight, st.inFlight)
							tr.sock.sendWnd = max(tr.sock.sendWnd, st.sendWnd)
							tr.sock.cwnd = max(tr.sock.cwnd, st.cwnd)
						}
					}
				}
			}
		}
	}()
	start := time.Now()
	var g errgroup.Group
	for i, tr := range tracks {
		g.Go(func() error {
			tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				addr := info.Conn.LocalAddr().String()
				tr.base.Store(ws.readFrom(addr))
				tr.addr.Store(&addr)
				tr.conn.Store(&info.Conn)
			}})
			body := Section(bytes.NewReader(data), 0, partSize)
			body.OnRead = func(n int) {
				if tr.sent.Add(int64(n)) == framed {
					tr.doneAt.Store(time.Now().UnixNano())
					tr.ahead.Store(gap(tr))
				}
			}
			if _, err := c.AddPart(tctx, up.ID, body); err != nil {
				return fmt.Errorf("part %d: %w", i+1, err)
			}
			tr.answered.Store(time.Now().UnixNano())
			return nil
		})
	}
	err = g.Wait()
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	var w wireGap
	w.took = time.Since(start)
	for _, tr := range tracks {
		w.ahead = append(w.ahead, tr.ahead.Load())
		w.most = append(w.most, tr.most.Load())
		w.tail = append(w.tail, time.Duration(tr.answered.Load()-tr.doneAt.Load()))
		w.sock = append(w.sock, tr.sock)
	}
	return w
}

// The bytes a part has counted as sent have nearly reached the server:
// against a server that takes 2 MiB/s per connection (uploads serve
// --throttle 2MiB), when the last byte of a 5 MiB part is handed to its
// connection (the bar shows the part all sent), at most 2.5 MiB of it are
// still unread by the server. What remains is the socket's unsent bytes
// (notSentLowat, 1 MiB), the bytes in flight and the server's receive
// buffer (1 MiB here), which the server drains 1 MiB at a time: measured
// 1.04 MiB or, one part in seven, 2.0 MiB (at most 2075 KiB in 60 parts).
// Without the bound Linux grows the send buffer to 4 MiB, and 3.0-4.0 MiB of
// each part count as sent ahead of the server, which needs 2 s more to read
// them.
func TestPartBytesFollowTheWire(t *testing.T) {
	if notSentLowatControl(notSentLowat) == nil {
		t.Skip("no TCP_NOTSENT_LOWAT on this system")
	}
	const bound = 2560 << 10
	ws := startWireServer(t, 2<<20)
	w := measureWireGap(t, ws, nil, 2, 5<<20)
	t.Logf("unread by the server when the part was all sent: %v KiB; at most while sending: %v KiB; answer after %v; %v in all",
		kib(w.ahead), kib(w.most), w.tail, w.took)
	for i, a := range w.ahead {
		if a > bound {
			t.Errorf("part %d: %d KiB were counted as sent but not yet read by the server when its last byte was counted; want at most %d KiB",
				i+1, a>>10, bound>>10)
		}
	}
}

func kib(v []int64) []int64 {
	out := slices.Clone(v)
	for i := range out {
		out[i] >>= 10
	}
	return out
}

// BenchmarkWireGap measures how far the bytes counted as sent run ahead of
// the bytes the server has read, per connection, for TCP_NOTSENT_LOWAT off
// and at several values: four parts of 5 MiB at once, each connection
// throttled to 2 MiB/s. ahead-KiB is the largest gap of the four when a part's
// last byte is counted, most-KiB the largest seen while parts are on their
// way, tail-ms the mean time from a part's last byte counted to its answer.
func BenchmarkWireGap(b *testing.B) {
	for _, lowat := range []int{0, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20} {
		name := "lowat=off"
		if lowat > 0 {
			name = fmt.Sprintf("lowat=%dKiB", lowat>>10)
		}
		b.Run(name, func(b *testing.B) {
			ws := startWireServer(b, 2<<20)
			var ahead, most int64
			var sock sockStat
			var tail time.Duration
			n := 0
			for b.Loop() {
				hc := &http.Client{Transport: newTransport(lowat, nil)}
				w := measureWireGap(b, ws, hc, 4, 5<<20)
				hc.CloseIdleConnections()
				ahead = max(ahead, slices.Max(w.ahead))
				most = max(most, slices.Max(w.most))
				for i, d := range w.tail {
					tail += d
					n++
					sock.notSent = max(sock.notSent, w.sock[i].notSent)
					sock.inFlight = max(sock.inFlight, w.sock[i].inFlight)
					sock.sendWnd = max(sock.sendWnd, w.sock[i].sendWnd)
					sock.cwnd = max(sock.cwnd, w.sock[i].cwnd)
				}
			}
			b.ReportMetric(float64(ahead)/1024, "ahead-KiB")
			b.ReportMetric(float64(most)/1024, "most-KiB")
			b.ReportMetric(float64(tail.Milliseconds())/float64(n), "tail-ms")
			b.ReportMetric(float64(sock.notSent)/1024, "notsent-KiB")
			b.ReportMetric(float64(sock.inFlight)/1024, "inflight-KiB")
			b.ReportMetric(float64(sock.sendWnd)/1024, "sndwnd-KiB")
			b.ReportMetric(float64(sock.cwnd)/1024, "cwnd-KiB")
		})
	}
}
