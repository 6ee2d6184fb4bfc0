package server_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/store"
)

// frozenClock stands still until advanced. servertest's clock follows the
// real time, and a slow fsync under load would move a file past its delay
// between two checks; this one moves only when a test says so. It starts
// 0.7 s into a second, so that a delay measured in whole seconds from
// created_at would show.
type frozenClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFrozenClock() *frozenClock {
	return &frozenClock{t: time.Date(2026, 9, 1, 12, 0, 0, 700_000_000, time.UTC)}
}

func (c *frozenClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *frozenClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// startFrozen runs the server with cfg on dir with clock as its time.
func startFrozen(t *testing.T, dir string, cfg server.Config, clock *frozenClock) *servertest.Server {
	t.Helper()
	st, err := store.Open(dir, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	srv := server.New(cfg)
	hs := httptest.NewServer(srv)
	s := &servertest.Server{Server: hs, Store: st, API: srv, Handler: srv, BaseURL: hs.URL + "/v1", DataDir: dir}
	t.Cleanup(s.Stop)
	return s
}

// uploadNamed makes a file named name through the Uploads API and returns
// the file object of complete's answer.
func uploadNamed(t *testing.T, s *servertest.Server, name string, data []byte) map[string]any {
	t.Helper()
	id := wantOK(t, s.Do(t, "POST", "/uploads", key, map[string]any{
		"filename": name, "purpose": "batch", "bytes": len(data), "mime_type": "text/jsonl"}, ""))["id"].(string)
	p := wantOK(t, addPart(t, s, key, id, data))["id"]
	u := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []any{p}}, ""))
	return u["file"].(map[string]any)
}

// postNamed makes a file named name with POST /files.
func postNamed(t *testing.T, s *servertest.Server, name string, data []byte) map[string]any {
	t.Helper()
	body, ct := fileForm(t, map[string]string{"purpose": "batch"}, name, data)
	return wantOK(t, s.Do(t, "POST", "/files", key, body, ct))
}

// wantStatus requires the file id, as GET /files/{id} and GET /files answer
// it, to have the status and details, and to match the spec's OpenAIFile
// (with only documented fields in strict mode).
func wantStatus(t *testing.T, s *servertest.Server, id, status, details string) {
	t.Helper()
	spec := oasSchemas(t)
	check := func(where string, f map[string]any) {
		t.Helper()
		if f["status"] != status {
			t.Errorf("%s: status %v, want %s", where, f["status"], status)
		}
		got, has := f["status_details"]
		switch {
		case details == "" && has:
			t.Errorf("%s: status_details %v, want none", where, got)
		case details != "" && (!has || !strings.Contains(got.(string), details)):
			t.Errorf("%s: status_details %v, want one containing %q", where, got, details)
		}
		b, _ := json.Marshal(f)
		if err := spec.validate("OpenAIFile", b); err != nil {
			t.Errorf("%s: %s does not match OpenAIFile: %v", where, b, err)
		}
		if extra := oasUndocumented(spec, "OpenAIFile", f); s.API.Strict && len(extra) > 0 {
			t.Errorf("%s: strict mode answered undocumented fields %v", where, extra)
		}
	}
	check("GET /files/"+id, wantOK(t, s.Do(t, "GET", "/files/"+id, key, nil, "")))
	found := false
	for _, d := range wantOK(t, s.Do(t, "GET", "/files", key, nil, ""))["data"].([]any) {
		if f := d.(map[string]any); f["id"] == id {
			check("GET /files", f)
			found = true
		}
	}
	if !found {
		t.Errorf("GET /files does not list %s", id)
	}
}

// A file is "uploaded" until the delay has passed since its creation, then
// "processed"; the delay is measured below the second.
func TestFileProcessingDelay(t *testing.T) {
	for _, strict := range []bool{false, true} {
		const delay = 10 * time.Second
		clock := newFrozenClock()
		s := startFrozen(t, t.TempDir(), server.Config{Strict: strict, ProcessDelay: delay}, clock)
		completed := uploadNamed(t, s, "a.jsonl", []byte("{}\n"))
		posted := postNamed(t, s, "b.jsonl", []byte("{}\n"))
		for _, f := range []map[string]any{completed, posted} {
			if f["status"] != server.FileUploaded {
				t.Fatalf("strict=%v: new file %v: status %v, want uploaded", strict, f["id"], f["status"])
			}
		}
		a, b := completed["id"].(string), posted["id"].(string)
		clock.Advance(delay - time.Nanosecond)
		wantStatus(t, s, a, server.FileUploaded, "")
		wantStatus(t, s, b, server.FileUploaded, "")
		clock.Advance(time.Nanosecond)
		wantStatus(t, s, a, server.FileProcessed, "")
		wantStatus(t, s, b, server.FileProcessed, "")
	}
}

// Without a delay a file is processed at once (the default), and a failing
// file fails at once.
func TestFileProcessingDefaults(t *testing.T) {
	s := servertest.Start(t, server.Config{ProcessFail: "bad-*"})
	if f := uploadNamed(t, s, "good.jsonl", []byte("{}\n")); f["status"] != server.FileProcessed {
		t.Fatalf("file = %v, want processed at once", f)
	}
	f := postNamed(t, s, "bad-1.jsonl", []byte("{}\n"))
	if f["status"] != server.FileError || !strings.HasPrefix(f["status_details"].(string), "processing failed: ") {
		t.Fatalf("file = %v, want error with details at once", f)
	}
}

// A file whose name matches ProcessFail is "uploaded", then "error" with
// status_details, in both modes; the others are processed.
func TestFileProcessingFails(t *testing.T) {
	for _, strict := range []bool{false, true} {
		clock := newFrozenClock()
		s := startFrozen(t, t.TempDir(), server.Config{Strict: strict, ProcessDelay: 5 * time.Second, ProcessFail: "*.bad.jsonl"}, clock)
		bad := uploadNamed(t, s, "train.bad.jsonl", []byte("{}\n"))["id"].(string)
		good := uploadNamed(t, s, "train.jsonl", []byte("{}\n"))["id"].(string)
		wantStatus(t, s, bad, server.FileUploaded, "")
		clock.Advance(5 * time.Second)
		wantStatus(t, s, bad, server.FileError, `processing failed: "train.bad.jsonl" could not be parsed as batch data`)
		wantStatus(t, s, good, server.FileProcessed, "")
	}
}

// The status is computed from the durable record, so a restart keeps it.
func TestFileProcessingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{ProcessDelay: time.Minute, ProcessFail: "*.bad"}
	clock := newFrozenClock()
	s := startFrozen(t, dir, cfg, clock)
	a := uploadNamed(t, s, "a.jsonl", []byte("{}\n"))["id"].(string)
	b := postNamed(t, s, "b.bad", []byte("{}\n"))["id"].(string)
	clock.Advance(time.Minute - time.Millisecond)
	s.Stop()

	s = startFrozen(t, dir, cfg, clock)
	wantStatus(t, s, a, server.FileUploaded, "")
	wantStatus(t, s, b, server.FileUploaded, "")
	clock.Advance(time.Millisecond)
	wantStatus(t, s, a, server.FileProcessed, "")
	wantStatus(t, s, b, server.FileError, "processing failed")
	s.Stop()

	// The status follows the configuration the server runs with.
	s = startFrozen(t, dir, server.Config{}, clock)
	wantStatus(t, s, a, server.FileProcessed, "")
	wantStatus(t, s, b, server.FileProcessed, "")
}

func TestCheckProcessFail(t *testing.T) {
	for _, ok := range []string{"*", "*.bad", "train-[0-9]?.jsonl", `a\*`} {
		if err := server.CheckProcessFail(ok); err != nil {
			t.Errorf("CheckProcessFail(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"[", "a[", `a\`, "[z-a"} {
		if err := server.CheckProcessFail(bad); err == nil {
			t.Errorf("CheckProcessFail(%q) accepted a malformed pattern", bad)
		}
	}
}
