package api

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/store"
)

const waitKey = "sk-wait"

// frozenClock is the time of the server and of the client's waits. It
// moves only when the client waits: servertest's clock follows the real
// time, and a slow fsync under load would then change how many polls a
// delay takes.
type frozenClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *frozenClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *frozenClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// waitServer runs the bundled server with cfg on dir, on clock.
func waitServer(t *testing.T, dir string, cfg server.Config, clock *frozenClock, wraps ...func(http.Handler) http.Handler) *servertest.Server {
	t.Helper()
	st, err := store.Open(dir, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	srv := server.New(cfg)
	var h http.Handler = srv
	for _, w := range wraps {
		h = w(h)
	}
	hs := httptest.NewServer(h)
	s := &servertest.Server{Server: hs, Store: st, API: srv, Handler: h, BaseURL: hs.URL + "/v1", DataDir: dir}
	t.Cleanup(s.Stop)
	return s
}

// startWait is a server on a fresh directory and a client of it whose
// waits move the clock instead of sleeping, and record how long each was.
func startWait(t *testing.T, cfg server.Config, slept *[]time.Duration, wraps ...func(http.Handler) http.Handler) (*servertest.Server, *Client) {
	t.Helper()
	clock := &frozenClock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}
	s := waitServer(t, t.TempDir(), cfg, clock, wraps...)
	return s, waitClient(t, s, clock, slept)
}

func waitClient(t *testing.T, s *servertest.Server, clock *frozenClock, slept *[]time.Duration) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: s.BaseURL, APIKey: waitKey, HTTPClient: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c.now = clock.Now
	c.sleep = func(ctx context.Context, d time.Duration) error {
		*slept = append(*slept, d)
		clock.Advance(d)
		return ctx.Err()
	}
	return c
}

// postFile makes a file named name with POST /files over real HTTP.
func postFile(t *testing.T, s *servertest.Server, name string) string {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("purpose", "batch")
	w, _ := mw.CreateFormFile("file", name)
	_, _ = w.Write([]byte("{}\n"))
	_ = mw.Close()
	r := s.Do(t, "POST", "/files", waitKey, b.Bytes(), mw.FormDataContentType())
	if r.Status != http.StatusOK {
		t.Fatalf("POST /files: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["id"].(string)
}

// The waits of a file processed after 10 s: 1 s, then ×1.5, until the poll
// that sees it processed.
func TestWaitProcessedAfterDelay(t *testing.T) {
	for _, strict := range []bool{false, true} {
		var slept []time.Duration
		s, c := startWait(t, server.Config{Strict: strict, ProcessDelay: 10 * time.Second}, &slept)
		id := postFile(t, s, "a.jsonl")
		var polls []string
		var announced []time.Duration
		f, err := c.WaitProcessed(context.Background(), id, time.Minute, func(status string, wait time.Duration) {
			polls = append(polls, status)
			announced = append(announced, wait)
		})
		if err != nil {
			t.Fatalf("strict=%v: %v", strict, err)
		}
		if st, _ := FileStatus(f); f.ID != id || st != "processed" {
			t.Fatalf("file = %s %s", f.ID, st)
		}
		ms := time.Millisecond
		want := []time.Duration{1000 * ms, 1500 * ms, 2250 * ms, 3375 * ms, 5062500 * time.Microsecond}
		if !equalDurations(slept, want) || !equalDurations(announced, want) {
			t.Errorf("strict=%v: waits %v (announced %v), want %v", strict, slept, announced, want)
		}
		if len(polls) != len(want) || strings.Join(polls, ",") != strings.Repeat("uploaded,", len(want)-1)+"uploaded" {
			t.Errorf("polls reported %v", polls)
		}
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The waits grow up to 10 s and stay there.
func TestWaitProcessedBackoffIsCapped(t *testing.T) {
	var slept []time.Duration
	s, c := startWait(t, server.Config{ProcessDelay: 70 * time.Second}, &slept)
	if _, err := c.WaitProcessed(context.Background(), postFile(t, s, "a.jsonl"), 0, nil); err != nil {
		t.Fatal(err)
	}
	if len(slept) < 8 || slept[5] != 7593750*time.Microsecond || slept[6] != 10*time.Second || slept[7] != 10*time.Second {
		t.Fatalf("waits %v, want 1s, 1.5s, 2.25s, 3.375s, 5.0625s, 7.59375s, then 10s each", slept)
	}
}

// Status error ends the wait with the server's details.
func TestWaitProcessedError(t *testing.T) {
	var slept []time.Duration
	s, c := startWait(t, server.Config{ProcessDelay: 3 * time.Second, ProcessFail: "*.bad.jsonl"}, &slept)
	id := postFile(t, s, "train.bad.jsonl")
	f, err := c.WaitProcessed(context.Background(), id, time.Minute, nil)
	var pe *ProcessingError
	if !errors.As(err, &pe) || f != nil {
		t.Fatalf("WaitProcessed = %v, %v; want a *ProcessingError", f, err)
	}
	if pe.FileID != id || pe.Status != "error" || !strings.HasPrefix(pe.Details, "processing failed: ") {
		t.Fatalf("error = %+v", pe)
	}
	if msg := err.Error(); !strings.Contains(msg, id) || !strings.Contains(msg, pe.Details) {
		t.Errorf("message %q names neither the file nor the details", msg)
	}
	if cl := Classify(context.Background(), err); cl != Rejected {
		t.Errorf("class %v, want Rejected", cl)
	}
	if len(slept) != 3 { // 1 + 1.5 + 2.25 s: the fourth poll sees it
		t.Errorf("waits %v", slept)
	}
}

// A file not processed in time ends the wait with its last status and how
// long the wait lasted; the last wait is cut to end at the limit.
func TestWaitProcessedTimeout(t *testing.T) {
	var slept []time.Duration
	s, c := startWait(t, server.Config{ProcessDelay: time.Hour}, &slept)
	id := postFile(t, s, "slow.jsonl")
	const limit = 20 * time.Second
	_, err := c.WaitProcessed(context.Background(), id, limit, nil)
	var we *WaitTimeoutError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want a *WaitTimeoutError", err)
	}
	if we.FileID != id || we.Status != "uploaded" || we.Waited != limit {
		t.Fatalf("error = %+v", we)
	}
	if msg := err.Error(); !strings.Contains(msg, id) || !strings.Contains(msg, `"uploaded"`) || !strings.Contains(msg, "after waiting 20s") {
		t.Errorf("message %q", msg)
	}
	var total time.Duration
	for _, d := range slept {
		total += d
	}
	if len(slept) != 6 || slept[5] != limit-13187500*time.Microsecond || total != limit {
		t.Errorf("waits %v (total %v), want 6 ending at the %v limit", slept, total, limit)
	}
	if cl := Classify(context.Background(), err); cl != Transient {
		t.Errorf("class %v, want Transient", cl)
	}
}

// The wait spans a restart of the server (the status is durable).
func TestWaitProcessedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{ProcessDelay: 30 * time.Second, ProcessFail: "*.bad"}
	clock := &frozenClock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}
	s := waitServer(t, dir, cfg, clock)
	good, bad := postFile(t, s, "a.jsonl"), postFile(t, s, "b.bad")
	clock.Advance(20 * time.Second)
	s.Stop()
	s = waitServer(t, dir, cfg, clock)
	var slept []time.Duration
	c := waitClient(t, s, clock, &slept)
	var first string
	f, err := c.WaitProcessed(context.Background(), good, time.Minute, func(status string, _ time.Duration) {
		if first == "" {
			first = status
		}
	})
	if err != nil || first != "uploaded" {
		t.Fatalf("after restart: %v, %v (first status %q)", f, err, first)
	}
	var pe *ProcessingError
	if _, err := c.WaitProcessed(context.Background(), bad, time.Minute, nil); !errors.As(err, &pe) {
		t.Fatalf("failing file after restart: %v", err)
	}
}

// An unknown file is the API's 404; a context that ends stops the wait.
func TestWaitProcessedStops(t *testing.T) {
	var slept []time.Duration
	s, c := startWait(t, server.Config{ProcessDelay: time.Hour}, &slept)
	_, err := c.WaitProcessed(context.Background(), "file-nope", time.Minute, nil)
	if ae, ok := ErrorOf(err); !ok || ae.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown file: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	id := postFile(t, s, "a.jsonl")
	_, err = c.WaitProcessed(ctx, id, 0, func(string, time.Duration) { cancel() })
	if !errors.Is(err, context.Canceled) || Classify(ctx, err) != Canceled {
		t.Fatalf("cancelled wait: %v", err)
	}
	// The real sleep ends with the context too.
	start := time.Now()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("sleepCtx on an ended context: %v after %v", err, time.Since(start))
	}
}

// A file without a status (the field is deprecated) has nothing to wait for.
func TestWaitProcessedWithoutStatus(t *testing.T) {
	var slept []time.Duration
	s, c := startWait(t, server.Config{ProcessDelay: time.Hour}, &slept, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if r.Method == http.MethodGet {
				body = bytes.Replace(body, []byte(`"status":"uploaded"`), []byte(`"x":1`), 1)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	})
	f, err := c.WaitProcessed(context.Background(), postFile(t, s, "a.jsonl"), time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := FileStatus(f); st != "" || len(slept) != 0 {
		t.Fatalf("WaitProcessed = status %q after %v; want the file at once", st, slept)
	}
}
