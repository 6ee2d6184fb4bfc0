package faults

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

func TestWrapLeavesOtherRequestsAlone(t *testing.T) {
	inj, err := New(Config{Rate: 1, Kinds: []Kind{Status503}})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := inj.Wrap(ok, func(r *http.Request) bool { return r.Method == http.MethodPost })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 204 {
		t.Fatalf("GET = %d, want it untouched", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != 503 || !bytes.Contains(rec.Body.Bytes(), []byte(`"error":{`)) {
		t.Fatalf("POST = %d %s, want a JSON 503", rec.Code, rec.Body)
	}
}
