package faults

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseKinds(t *testing.T) {
	k, err := ParseKinds(" 500, drop ,429")
	if err != nil || len(k) != 3 || k[0] != Status500 || k[1] != Drop || k[2] != Status429 {
		t.Fatalf("ParseKinds = %v, %v", k, err)
	}
	for _, bad := range []string{"", ",", "404", "500,teapot"} {
		if _, err := ParseKinds(bad); err == nil {
			t.Errorf("ParseKinds(%q) accepted", bad)
		}
	}
	for _, r := range []float64{-0.1, 1.1} {
		if _, err := New(Config{Rate: r}); err == nil {
			t.Errorf("New(rate %v) accepted", r)
		}
	}
}

// upload sends n bytes to a server behind ThrottleListener(limit) and returns
// how long the server took to receive them.
func upload(t *testing.T, limit int64, n int) time.Duration {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ThrottleListener(ln, limit)
	srv.Start()
	defer srv.Close()
	start := time.Now()
	res, err := srv.Client().Post(srv.URL, "application/octet-stream", bytes.NewReader(make([]byte, n)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return time.Since(start)
}

// The throttle is a floor on the time an upload takes: 2 MiB at 4 MiB/s
// cannot arrive in less than half a second minus one burst (1 MiB).
func TestThrottleCapsEachConnection(t *testing.T) {
	const limit, n = 4 << 20, 2 << 20
	minimum := time.Duration(float64(n-(1<<20)) / limit * float64(time.Second))
	if took := upload(t, limit, n); took < minimum {
		t.Fatalf("2 MiB at 4 MiB/s arrived in %v, faster than the cap allows (%v)", took, minimum)
	}
}

// The link cap is shared: two connections sending 2 MiB each under an
// 8 MiB/s link cannot deliver their 4 MiB in less than 3 MiB / 8 MiB/s (one
// burst of 1 MiB comes at once), however fast each connection may go.
func TestThrottleLinkCapsAllConnectionsTogether(t *testing.T) {
	const link, n = 8 << 20, 2 << 20
	minimum := time.Duration(float64(2*n-(1<<20)) / link * float64(time.Second))
	for _, th := range []Throttle{{Link: link}, {Link: link, PerConn: 64 << 20}} {
		var conns atomic.Int64
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener = NewThrottleListener(ln, th)
		srv.Start()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() {
				res, err := srv.Client().Post(srv.URL, "application/octet-stream", bytes.NewReader(make([]byte, n)))
				if err != nil {
					errs <- err
					return
				}
				res.Body.Close()
			})
		}
		wg.Wait()
		took := time.Since(start)
		srv.Close()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if conns.Load() != 2 {
			t.Fatalf("%+v: %d connections, want 2", th, conns.Load())
		}
		if took < minimum {
			t.Fatalf("%+v: 2×2 MiB arrived in %v, faster than the 8 MiB/s link allows (%v)", th, took, minimum)
		}
	}
}

func TestLatencyDelaysRequests(t *testing.T) {
	h := Latency(80*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	start := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if took := time.Since(start); took < 80*time.Millisecond {
		t.Fatalf("request took %v, want at least the 80ms latency", took)
	}
}

func TestParseEndpoints(t *testing.T) {
	e, err := ParseEndpoints(" parts, complete ,create,cancel")
	if err != nil || len(e) != 4 || e[0] != Parts || e[1] != Complete || e[2] != Create || e[3] != Cancel {
		t.Fatalf("ParseEndpoints = %v, %v", e, err)
	}
	for _, bad := range []string{"", ",", "files", "parts,upload"} {
		_, err := ParseEndpoints(bad)
		if err == nil || !strings.Contains(err.Error(), "create, parts, complete and cancel") {
			t.Errorf("ParseEndpoints(%q) = %v, want an error naming the valid endpoints", bad, err)
		}
	}
	if _, err := New(Config{Endpoints: []Endpoint{"files"}}); err == nil {
		t.Error("New accepted an unknown endpoint")
	}
	if _, err := New(Config{Kinds: []Kind{"teapot"}}); err == nil {
		t.Error("New accepted an unknown kind")
	}
	if k, err := ParseKinds("lost"); err != nil || len(k) != 1 || k[0] != Lost {
		t.Errorf("ParseKinds(lost) = %v, %v", k, err)
	}
	if slices.Contains(DefaultKinds, Lost) {
		t.Error("lost is in the default mix; it must be asked for")
	}
}

func TestEndpointOf(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         Endpoint
	}{
		{"POST", "/v1/uploads", Create},
		{"POST", "/v1/uploads/upload_1/parts", Parts},
		{"POST", "/v1/uploads/upload_1/complete", Complete},
		{"POST", "/v1/uploads/upload_1/cancel", Cancel},
		{"GET", "/v1/uploads/upload_1/parts", ""},
		{"GET", "/v1/uploads/upload_1", ""},
		{"POST", "/v1/files", ""},
		{"POST", "/v1/uploads/upload_1", ""},
		{"POST", "/v1/uploads//parts", ""},
		{"DELETE", "/v1/files/file-1", ""},
	} {
		got, ok := endpointOf(httptest.NewRequest(c.method, c.path, nil))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s %s: endpoint %q (%v), want %q", c.method, c.path, got, ok, c.want)
		}
	}
}

func TestWrapAppliesToTheConfiguredEndpoints(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	status := func(h http.Handler, method, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Status503}})
	if err != nil {
		t.Fatal(err)
	}
	h := inj.Wrap(ok)
	// The default: part uploads only.
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/uploads/u/parts", 204},
		{"POST", "/v1/uploads", 204},
		{"POST", "/v1/uploads/u/complete", 204},
		{"POST", "/v1/uploads/u/parts", 503},
	} {
		if got := status(h, c.method, c.path); got != c.want {
			t.Errorf("default endpoints: %s %s = %d, want %d", c.method, c.path, got, c.want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/uploads/u/parts", nil))
	if !bytes.Contains(rec.Body.Bytes(), []byte(`"error":{`)) {
		t.Fatalf("the fault is not a JSON error: %s", rec.Body)
	}

	var log bytes.Buffer
	inj, err = New(Config{Rate: 1, Kinds: []Kind{Status500}, Endpoints: []Endpoint{Create, Complete}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h = inj.Wrap(ok)
	for path, want := range map[string]int{"/v1/uploads": 500, "/v1/uploads/u/complete": 500, "/v1/uploads/u/parts": 204, "/v1/uploads/u/cancel": 204} {
		if got := status(h, "POST", path); got != want {
			t.Errorf("create,complete: POST %s = %d, want %d", path, got, want)
		}
	}
	if inj.Injected() != 2 {
		t.Errorf("injected = %d, want 2", inj.Injected())
	}
	if n := strings.Count(log.String(), `msg="injected fault" kind=500 method=POST`); n != 2 {
		t.Errorf("%d injected faults logged, want 2:\n%s", n, log.String())
	}
}

// A lost answer: the handler runs to its end, and the client gets a
// connection error instead of its answer.
func TestLostRunsTheHandlerAndSendsNothing(t *testing.T) {
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Lost}})
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	srv := httptest.NewServer(inj.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		handled.Add(int64(len(b)))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"part_1"}`))
	})))
	defer srv.Close()
	res, err := srv.Client().Post(srv.URL+"/v1/uploads/u/parts", "application/octet-stream", bytes.NewReader(make([]byte, 100<<10)))
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("a lost answer arrived: %d %q", res.StatusCode, b)
	}
	if handled.Load() != 100<<10 {
		t.Fatalf("the handler read %d bytes, want the whole 100 KiB body", handled.Load())
	}
	// Other requests are answered.
	res, err = srv.Client().Post(srv.URL+"/v1/files", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

// countingReader counts what the HTTP client reads of a request body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A stall reads the start of the body, then neither reads nor answers: the
// client's bytes stop moving and no answer comes until the server lets the
// connection go; the API never sees the request.
func TestStallStopsReadingAndNeverAnswers(t *testing.T) {
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Stall}, StallFor: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Bool
	srv := httptest.NewServer(inj.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Store(true)
	})))
	defer srv.Close()
	sendStalled(t, srv, 2*time.Second, &handled)
	if inj.Injected() != 1 {
		t.Fatalf("injected %d faults, want 1", inj.Injected())
	}
}

// h2Server is an HTTPS server offering HTTP/2 around h; the handler notes the
// protocol of each request it sees.
func h2Server(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var proto atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int64(r.ProtoMajor))
		h.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &proto
}

// Over HTTP/2 a stall holds the stream, neither reading nor answering,
// until its time is up; then the stream is reset.
func TestStallOverHTTP2HoldsTheStream(t *testing.T) {
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Stall}, StallFor: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Bool
	srv, proto := h2Server(t, inj.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Store(true)
	})))
	sendStalled(t, srv, time.Second, &handled)
	if proto.Load() != 2 {
		t.Fatalf("the request came over HTTP/%d, want HTTP/2", proto.Load())
	}
}

// sendStalled posts a 64 MiB part to srv, whose injector stalls it for
// hold, and checks what the client sees of a stall: no answer, not before
// hold, not all its bytes read, and the API (handled) never reached.
func sendStalled(t *testing.T, srv *httptest.Server, hold time.Duration, handled *atomic.Bool) {
	t.Helper()
	const size = 64 << 20
	body := &countingReader{r: bytes.NewReader(make([]byte, size))}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/uploads/u/parts", body)
	req.ContentLength = size
	start := time.Now()
	res, err := srv.Client().Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("a stalled request was answered: %d", res.StatusCode)
	}
	if took := time.Since(start); took < hold {
		t.Fatalf("the stall ended after %v, want the %v it was set to hold", took, hold)
	}
	if sent := body.n.Load(); sent >= size {
		t.Fatalf("the client sent all %d bytes: the server kept reading", sent)
	}
	if handled.Load() {
		t.Fatal("the API handled a stalled request")
	}
}

// Over HTTP/2 a stall ends with its stream: a client that gives up frees
// the handler at once, not after StallFor.
func TestStallOverHTTP2EndsWhenTheClientGivesUp(t *testing.T) {
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Stall}, StallFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	srv, _ := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		defer func() { _ = recover() }() // the stall's abort
		inj.Wrap(http.NotFoundHandler()).ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/uploads/u/parts", bytes.NewReader(make([]byte, 4<<20)))
	if res, err := srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a stalled request was answered: %d", res.StatusCode)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled handler still runs 10 s after its client gave up")
	}
}

// Over HTTP/2 an injected error answers its stream and leaves the
// connection to the others: the next request reuses it.
func TestFaultOverHTTP2KeepsTheConnection(t *testing.T) {
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Status503}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := h2Server(t, inj.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	c := srv.Client()
	for i := range 2 {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodPost, srv.URL+"/v1/uploads/u/parts", bytes.NewReader(make([]byte, 64<<10)))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 503 || res.ProtoMajor != 2 {
			t.Fatalf("HTTP/%d %d, want an HTTP/2 503", res.ProtoMajor, res.StatusCode)
		}
		if i == 1 && !reused {
			t.Fatal("the second request needed a new connection: the fault closed the first")
		}
	}
}
