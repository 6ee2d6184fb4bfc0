package faults

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("the stall ended after %v, want the 2 s it was set to hold", took)
	}
	if sent := body.n.Load(); sent >= size {
		t.Fatalf("the client sent all %d bytes: the server kept reading", sent)
	}
	if handled.Load() {
		t.Fatal("the API handled a stalled request")
	}
	if inj.Injected() != 1 {
		t.Fatalf("injected %d faults, want 1", inj.Injected())
	}
}
