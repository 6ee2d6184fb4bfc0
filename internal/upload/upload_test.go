package upload_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/store"
	"github.com/uploads-dev/uploads/internal/upload"
)

func writeFile(t *testing.T, dir string, size int, seed uint64) (string, []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	p := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func client(t *testing.T, s *servertest.Server) *api.Client {
	t.Helper()
	c, err := api.New(api.Config{BaseURL: s.BaseURL, APIKey: "sk-test", HTTPClient: s.Client(), MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// events collects what an upload reports.
type events struct {
	mu   sync.Mutex
	list []upload.Event
	on   func(upload.Event)
}

func (e *events) report(ev upload.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	on := e.on
	e.mu.Unlock()
	if on != nil {
		on(ev)
	}
}

func (e *events) count(t upload.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Type == t {
			n++
		}
	}
	return n
}

func (e *events) parts(t upload.EventType) map[int]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[int]bool{}
	for _, ev := range e.list {
		if ev.Type == t {
			m[ev.Part] = true
		}
	}
	return m
}

func (e *events) messages() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.list {
		if ev.Message != "" {
			b.WriteString(ev.Message + "\n")
		}
	}
	return b.String()
}

func opts(t *testing.T, ev *events, journalDir string) upload.Options {
	return upload.Options{Purpose: "video", PartSize: 64 << 10, Concurrency: 4,
		Retry:   retry.Policy{Retries: 8, Base: 5 * time.Millisecond, Max: 100 * time.Millisecond},
		Journal: &journal.Store{Dir: journalDir}, Report: ev.report}
}

// content downloads a file's bytes from the server.
func content(t *testing.T, s *servertest.Server, fileID string) []byte {
	t.Helper()
	r := s.Do(t, "GET", "/files/"+fileID+"/content", "sk-test", nil, "")
	if r.Status != 200 {
		t.Fatalf("content: %d %s", r.Status, r.Body)
	}
	return r.Body
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// modes runs f against the bundled server in its default mode and in its
// strict mode (the real service's surface, no extension).
func modes(t *testing.T, f func(t *testing.T, strict bool)) {
	for _, strict := range []bool{false, true} {
		name := "default"
		if strict {
			name = "strict"
		}
		t.Run(name, func(t *testing.T) { f(t, strict) })
	}
}

// noExtensions fails the test when the client uses anything the real
// service lacks: reading an upload or its parts, or an extension header.
func noExtensions(t *testing.T) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/uploads") {
				t.Errorf("the client used an extension: %s %s", r.Method, r.URL.Path)
			}
			for _, h := range []string{"X-Part-Number", "X-MD5-Chain"} {
				if r.Header.Get(h) != "" {
					t.Errorf("the client sent the extension header %s", h)
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// start runs the bundled server for an engine test, with the extension
// guard outermost and wraps inside it.
func start(t *testing.T, strict bool, wraps ...func(http.Handler) http.Handler) *servertest.Server {
	t.Helper()
	return servertest.Start(t, server.Config{Strict: strict}, append(wraps, noExtensions(t))...)
}

// files lists the ids of the files the test key owns.
func files(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	var ids []string
	for _, f := range s.Do(t, "GET", "/files", "sk-test", nil, "").JSON(t)["data"].([]any) {
		ids = append(ids, f.(map[string]any)["id"].(string))
	}
	return ids
}

// uploadStatus reads a session's status from the store (not over HTTP: the
// client under test must not be seen reading uploads).
func uploadStatus(t *testing.T, s *servertest.Server, id string) string {
	t.Helper()
	u, err := s.Store.GetUpload(server.OrgOf("sk-test"), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Status
}

func journalOf(t *testing.T, dir string, fe *upload.FailedError) *journal.Journal {
	t.Helper()
	j, err := (&journal.Store{Dir: dir}).Load(filepath.Base(strings.TrimSuffix(fe.Journal, ".json")))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPutRoundTrip(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		s := start(t, strict)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 1<<20+12345, 1) // 17 parts, the last short
		ev := &events{}
		o := opts(t, ev, filepath.Join(dir, "journal"))
		res, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("the uploaded file differs from the source")
		}
		if res.PartsSent != 17 || res.BytesSent != int64(len(data)) || res.Resumed || res.Recovered {
			t.Fatalf("result = %+v", res)
		}
		if ev.count(upload.EventPartDone) != 17 || ev.count(upload.EventCompleted) != 1 {
			t.Fatalf("events: %d part_done, %d completed", ev.count(upload.EventPartDone), ev.count(upload.EventCompleted))
		}
		// The journal and its lock file are gone once the file exists.
		if entries, _ := filepath.Glob(filepath.Join(dir, "journal", "*.*")); len(entries) != 0 {
			t.Fatalf("journal or lock file left after success: %v", entries)
		}
		f := s.Do(t, "GET", "/files/"+res.FileID, "sk-test", nil, "").JSON(t)
		if f["bytes"] != float64(len(data)) || f["filename"] != "clip.mp4" {
			t.Fatalf("file = %v", f)
		}
	})
}

// Each part is in the journal, on disk, by the time it is reported done:
// a crash after an acknowledgement re-sends nothing that was acknowledged —
// but the last part acknowledged, which complete's own record holds (a crash
// in between re-sends that one part).
func TestPutJournalsEachPartWhenAcknowledged(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 1<<20, 2) // 16 parts
	ev := &events{}
	jdir := filepath.Join(dir, "j")
	store := &journal.Store{Dir: jdir}
	var checked, done atomic.Int64
	ev.on = func(e upload.Event) {
		if e.Type != upload.EventPartDone || done.Add(1) == 16 {
			return
		}
		entries, err := store.List()
		if err != nil || len(entries) != 1 || entries[0].Journal == nil {
			t.Errorf("journal at part %d: %v %v", e.Part, entries, err)
			return
		}
		if entries[0].Journal.Parts[e.Part-1].ID == "" {
			t.Errorf("part %d reported done before it was journaled", e.Part)
		}
		checked.Add(1)
	}
	if _, err := (&upload.Uploader{Client: client(t, s), Opts: opts(t, ev, jdir)}).Put(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if checked.Load() != 15 {
		t.Fatalf("checked %d acknowledgements, want 15 (all but the last)", checked.Load())
	}
}

func TestPutSurvivesInjectedFaults(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		inj, err := faults.New(faults.Config{Rate: 0.3, Seed: 11, RetryAfter: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, strict, inj.Wrap)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 2<<20, 2) // 32 parts
		ev := &events{}
		res, err := (&upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}).Put(context.Background(), path)
		if err != nil {
			t.Fatalf("with 30%% faults: %v", err)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs after retries")
		}
		if inj.Injected() < 5 || res.Retries < int(inj.Injected())-1 {
			t.Fatalf("injected %d faults, %d retries: the faults did not happen or were not retried", inj.Injected(), res.Retries)
		}
	})
}

// A part whose answer was lost is sent again: the server then holds a copy
// that complete does not list, and the upload still completes.
func TestPutCompletesWhenPartAnswersAreLost(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		inj, err := faults.New(faults.Config{Rate: 0.25, Seed: 3, Kinds: []faults.Kind{faults.Lost}, Endpoints: []faults.Endpoint{faults.Parts}})
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, strict, inj.Wrap)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 1<<20, 12) // 16 parts
		res, err := (&upload.Uploader{Client: client(t, s), Opts: opts(t, &events{}, dir)}).Put(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if inj.Injected() == 0 {
			t.Fatal("no answer was lost")
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs")
		}
		if got := len(files(t, s)); got != 1 {
			t.Fatalf("%d files, want 1", got)
		}
	})
}

// The server completes the upload but its answer never arrives (the SDK's
// retries then hear that the upload is no longer pending): put ends with the
// file that was made, and makes no second one.
func TestPutFindsTheFileWhenTheCompleteAnswerIsLost(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		inj, err := faults.New(faults.Config{Rate: 1, Kinds: []faults.Kind{faults.Lost}, Endpoints: []faults.Endpoint{faults.Complete}})
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, strict, inj.Wrap)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 300<<10, 13)
		ev := &events{}
		res, err := (&upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}).Put(context.Background(), path)
		if err != nil {
			t.Fatalf("Put = %v; messages:\n%s", err, ev.messages())
		}
		if !res.Recovered || !strings.Contains(ev.messages(), "the answer to complete upload "+res.UploadID+" was lost") {
			t.Fatalf("result %+v; messages:\n%s", res, ev.messages())
		}
		if ids := files(t, s); len(ids) != 1 || ids[0] != res.FileID {
			t.Fatalf("files %v, want exactly %s", ids, res.FileID)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs")
		}
		if entries, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(entries) != 0 {
			t.Fatalf("journal left after success: %v", entries)
		}
	})
}

// The process dies after the server completed the upload but before the
// answer arrived: running again finds the file instead of uploading again.
func TestPutRerunFindsTheFileOfACompleteWhoseAnswerNeverCame(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var hung atomic.Bool
		hang := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/complete") || hung.Swap(true) {
					next.ServeHTTP(w, r)
					return
				}
				next.ServeHTTP(httptest.NewRecorder(), r) // the server acts
				cancel()                                  // the client dies before the answer
				<-r.Context().Done()
			})
		}
		s := start(t, strict, hang)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 300<<10, 14)
		u := &upload.Uploader{Client: client(t, s), Opts: opts(t, &events{}, dir)}
		if _, err := u.Put(ctx, path); !errors.Is(err, context.Canceled) {
			t.Fatalf("first run = %v, want it interrupted", err)
		}
		ev := &events{}
		u.Opts.Report = ev.report
		res, err := u.Put(context.Background(), path)
		if err != nil {
			t.Fatalf("rerun = %v; messages:\n%s", err, ev.messages())
		}
		if !res.Recovered || res.PartsSent != 0 {
			t.Fatalf("rerun result %+v", res)
		}
		if ids := files(t, s); len(ids) != 1 || ids[0] != res.FileID {
			t.Fatalf("files %v, want exactly %s", ids, res.FileID)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs")
		}
	})
}

// A journaled session that ended elsewhere (cancelled, or unknown to the
// server) is replaced by a new one, with a warning, and the file completes.
func TestPutStartsOverWhenTheSessionEndedElsewhere(t *testing.T) {
	for _, how := range []string{"cancelled", "unknown"} {
		t.Run(how, func(t *testing.T) {
			modes(t, func(t *testing.T, strict bool) {
				s := start(t, strict)
				dir := t.TempDir()
				path, data := writeFile(t, dir, 512<<10, 15)
				ev := &events{}
				u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
				u.Opts.Concurrency = 1
				fe := interruptAfter(t, u, ev, path, 2)
				if how == "cancelled" {
					if r := s.Do(t, "POST", "/uploads/"+fe.UploadID+"/cancel", "sk-test", nil, ""); r.Status != 200 {
						t.Fatalf("cancel: %d %s", r.Status, r.Body)
					}
				} else {
					j := journalOf(t, dir, fe)
					j.UploadID = "upload_" + strings.Repeat("0", 24)
					if err := (&journal.Store{Dir: dir}).Save(j); err != nil {
						t.Fatal(err)
					}
				}
				ev2 := &events{}
				u.Opts.Report = ev2.report
				res, err := u.Put(context.Background(), path)
				if err != nil {
					t.Fatalf("rerun = %v; messages:\n%s", err, ev2.messages())
				}
				if res.Resumed || res.UploadID == fe.UploadID || !strings.Contains(ev2.messages(), "starting over with a new upload") {
					t.Fatalf("result %+v; messages:\n%s", res, ev2.messages())
				}
				if !bytes.Equal(content(t, s, res.FileID), data) {
					t.Fatal("content differs")
				}
			})
		})
	}
}

func TestPutRefusesBadInputBeforeAnyRequest(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.mp4")
	_ = os.WriteFile(empty, nil, 0o600)
	huge := filepath.Join(dir, "huge.mp4")
	fh, _ := os.Create(huge)
	_ = fh.Truncate(8<<30 + 1) // sparse
	fh.Close()
	fifo := filepath.Join(dir, "fifo.mp4")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	for path, want := range map[string]string{
		empty: "cannot be uploaded: empty file", huge: "over the 8 GiB", dir: "is a directory", filepath.Join(dir, "nope"): "cannot read",
		fifo: "cannot be uploaded: named pipe (FIFO)", "/dev/null": "cannot be uploaded: character device",
	} {
		if _, err := u.Put(context.Background(), path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Put(%s) = %v, want an error saying %q", filepath.Base(path), err, want)
		}
	}
	for _, ps := range []int64{-1, 64<<20 + 1} {
		u.Opts.PartSize = ps
		if _, err := u.Put(context.Background(), empty); err == nil || !strings.Contains(err.Error(), "part size") {
			t.Errorf("part size %d: %v", ps, err)
		}
	}
	if len(files(t, s)) != 0 {
		t.Fatal("a file was created")
	}
}

// Two puts of one file at once: the second refuses at once, naming the
// first, and nothing of the first is disturbed.
func TestPutRefusesASecondProcessOnTheSameFile(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 256<<10, 16)
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, &events{}, dir)}
	st, _ := os.Stat(path)
	fp := journal.Fingerprint{Path: path, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Purpose: "video", BaseURL: s.BaseURL}
	lock, err := (&journal.Store{Dir: dir}).Lock(fp.Key())
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Put(context.Background(), path)
	var le *journal.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second Put = %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	if s.Store == nil || len(files(t, s)) != 0 {
		t.Fatal("the second put made a file")
	}
	_ = lock.Unlock()
	if _, err := u.Put(context.Background(), path); err != nil {
		t.Fatalf("after the first ended: %v", err)
	}
}

// A journal directory that cannot be written is found before a session is
// created.
func TestPutChecksTheJournalBeforeCreating(t *testing.T) {
	// A file where the directory should be (a read-only directory would not
	// stop root, who runs CI).
	var creates atomic.Int64
	s := start(t, true, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/uploads" {
				creates.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 256<<10, 17)
	blocked := filepath.Join(dir, "not-a-dir")
	_ = os.WriteFile(blocked, []byte("x"), 0o600)
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, &events{}, filepath.Join(blocked, "journals"))}
	if _, err := u.Put(context.Background(), path); err == nil || !strings.Contains(err.Error(), "journal") {
		t.Fatalf("Put = %v, want a journal error", err)
	}
	if n := creates.Load(); n != 0 {
		t.Fatalf("%d sessions were created, want none", n)
	}
}

// interruptAfter runs a Put that is cancelled once n parts are acknowledged.
func interruptAfter(t *testing.T, u *upload.Uploader, ev *events, path string, n int) *upload.FailedError {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventPartDone && e.PartsDone >= n {
			once.Do(cancel)
		}
	}
	_, err := u.Put(ctx, path)
	ev.on = nil
	var fe *upload.FailedError
	if !errors.As(err, &fe) || !errors.Is(err, context.Canceled) || !fe.Kept {
		t.Fatalf("interrupted Put = %v, want a kept FailedError wrapping context.Canceled", err)
	}
	return fe
}

func TestPutResumesAfterInterruption(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		s := start(t, strict)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 1<<20, 3) // 16 parts
		ev := &events{}
		u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, filepath.Join(dir, "j"))}
		u.Opts.Concurrency = 2
		fe := interruptAfter(t, u, ev, path, 6)
		if fe.PartsDone < 6 || fe.Journal == "" {
			t.Fatalf("failure = %+v", fe)
		}
		acked, _ := journalOf(t, filepath.Join(dir, "j"), fe).Acked()
		ev2 := &events{}
		u.Opts.Report = ev2.report
		res, err := u.Put(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Resumed || res.UploadID != fe.UploadID {
			t.Fatalf("not resumed: %+v (first upload %s)", res, fe.UploadID)
		}
		if res.PartsSent != 16-acked {
			t.Fatalf("resumed run sent %d parts, want %d (16 - %d journaled)", res.PartsSent, 16-acked, acked)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("resumed content differs")
		}
	})
}

// Another part size for a file with a journal resumes with the journal's
// part size, saying so; it does not abandon the upload.
func TestPutResumeKeepsTheJournalsPartSize(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 1<<20, 18)
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	u.Opts.Concurrency = 1
	fe := interruptAfter(t, u, ev, path, 3)
	ev2 := &events{}
	u.Opts.Report, u.Opts.PartSize = ev2.report, 128<<10
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.UploadID != fe.UploadID || !strings.Contains(ev2.messages(), "with its part size of 65536 bytes") ||
		strings.Contains(ev2.messages(), "changed") {
		t.Fatalf("result %+v; messages:\n%s", res, ev2.messages())
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs")
	}
}

func TestPutStartsOverWhenTheSessionExpired(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 512<<10, 4)
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	fe := interruptAfter(t, u, ev, path, 2)
	s.Clock.Advance(2 * time.Hour) // the server's session is now expired
	ev2 := &events{}
	later := time.Now().Add(2 * time.Hour)
	u.Opts.Report, u.Opts.Now = ev2.report, func() time.Time { return later }
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed || res.UploadID == fe.UploadID || !strings.Contains(ev2.messages(), "expired at") {
		t.Fatalf("resumed an expired session: %+v; messages:\n%s", res, ev2.messages())
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs")
	}
}

func TestPutRefusesAFileModifiedDuringUpload(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 1<<20, 5)
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	var once sync.Once
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventPartDone {
			once.Do(func() {
				later := time.Now().Add(time.Minute)
				if err := os.Chtimes(path, later, later); err != nil {
					t.Error(err)
				}
			})
		}
	}
	_, err := u.Put(context.Background(), path)
	var ce *upload.ChangedError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "changed during the upload") {
		t.Fatalf("Put of a changing file = %v", err)
	}
	if len(files(t, s)) != 0 {
		t.Fatal("a changed file was completed")
	}
	var fe *upload.FailedError
	if errors.As(err, &fe) && fe.Kept {
		t.Fatal("the journal of a changed file was kept")
	}
}

// A file cut short while its parts are in flight is reported as changed at
// once: no retries of bodies that can no longer be read whole.
func TestPutRefusesAFileTruncatedDuringUpload(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		s := start(t, strict)
		dir := t.TempDir()
		path, _ := writeFile(t, dir, 1<<20, 19)
		ev := &events{}
		u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
		u.Opts.Retry = retry.Policy{Retries: 8, Base: time.Second, Max: time.Second}
		var once sync.Once
		ev.on = func(e upload.Event) {
			if e.Type == upload.EventPartDone {
				once.Do(func() {
					if err := os.Truncate(path, 100<<10); err != nil {
						t.Error(err)
					}
				})
			}
		}
		start := time.Now()
		_, err := u.Put(context.Background(), path)
		var ce *upload.ChangedError
		if !errors.As(err, &ce) {
			t.Fatalf("Put of a truncated file = %v, want a ChangedError", err)
		}
		if ev.count(upload.EventRetry) != 0 || time.Since(start) > 5*time.Second {
			t.Fatalf("%d retries in %v before reporting the change", ev.count(upload.EventRetry), time.Since(start))
		}
		if len(files(t, s)) != 0 {
			t.Fatal("a truncated file was completed")
		}
	})
}

func TestPutCorruptJournal(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 256<<10, 6)
	ev := &events{}
	jdir := filepath.Join(dir, "j")
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, jdir)}
	fe := interruptAfter(t, u, ev, path, 1)
	if err := os.WriteFile(fe.Journal, []byte(`{"version": 2, "upload_id": `), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := u.Put(context.Background(), path)
	var ce *journal.CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "uploads journal rm") || !strings.Contains(err.Error(), "--restart") {
		t.Fatalf("corrupt journal: %v", err)
	}
	u.Opts.Restart = true
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatalf("--restart over a corrupt journal: %v", err)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs")
	}
}

func TestPutVerifyResendsChangedParts(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		s := start(t, strict)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 512<<10, 7) // 8 parts
		ev := &events{}
		u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
		u.Opts.Concurrency = 1
		interruptAfter(t, u, ev, path, 3)
		// Change the first part's bytes but keep size and mtime: only --verify can tell.
		st, _ := os.Stat(path)
		data[0] ^= 0xff
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chtimes(path, st.ModTime(), st.ModTime())
		ev2 := &events{}
		u.Opts.Report, u.Opts.Verify = ev2.report, true
		res, err := u.Put(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ev2.messages(), "part 1 no longer matches") || !ev2.parts(upload.EventPartStarted)[1] {
			t.Fatalf("--verify did not re-send part 1; messages:\n%s", ev2.messages())
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs from the changed file")
		}
	})
}

func TestPutCancelOnFailure(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 512<<10, 8)
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	u.Opts.CancelOnFailure = true
	ctx, cancel := context.WithCancel(context.Background())
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventPartDone {
			cancel()
		}
	}
	_, err := u.Put(ctx, path)
	var fe *upload.FailedError
	if !errors.As(err, &fe) || fe.Kept {
		t.Fatalf("Put = %v, want a failure that keeps nothing", err)
	}
	if st := uploadStatus(t, s, fe.UploadID); st != "cancelled" {
		t.Fatalf("session status = %v, want cancelled", st)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(entries) != 0 {
		t.Fatalf("journal kept: %v", entries)
	}
}

func TestPutWithoutJournal(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 300<<10, 9)
	ev := &events{}
	o := opts(t, ev, dir)
	o.Journal = nil
	res, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if md5hex(content(t, s, res.FileID)) != md5hex(data) {
		t.Fatal("content differs")
	}
}

// When the rate so far cannot finish before the session expires, the user is
// warned (and the expiry then fails the upload without keeping a journal).
func TestPutWarnsWhenTheSessionWillExpireFirst(t *testing.T) {
	s := servertest.Start(t, server.Config{UploadTTL: 2 * time.Second, Strict: true}, func(h http.Handler) http.Handler {
		return faults.Latency(150*time.Millisecond, h)
	})
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 30<<16, 10) // 30 parts of 64 KiB, one at a time: about 4.5 s
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	u.Opts.Concurrency = 1
	_, err := u.Put(context.Background(), path)
	if !strings.Contains(ev.messages(), "expires in") || !strings.Contains(ev.messages(), "consider more --concurrency") {
		t.Fatalf("no warning about the session's life; messages:\n%s", ev.messages())
	}
	var fe *upload.FailedError
	if !errors.As(err, &fe) || fe.Kept {
		t.Fatalf("Put = %v, want the expiry to end the upload without a journal", err)
	}
}

// flipByte flips one byte of a request body at offset at.
type flipByte struct {
	io.ReadCloser
	at, read int64
}

func (f *flipByte) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if i := f.at - f.read; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	f.read += int64(n)
	return n, err
}

// A part damaged on its way makes complete refuse the file's MD5; the file
// itself is unchanged (its parts still match the whole-file pass), so the
// upload sends its parts again, once, and completes with the right bytes.
func TestPutRepairsAPartDamagedInTransit(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		var n atomic.Int64
		damage := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") && n.Add(1) == 3 {
					r.Body = &flipByte{ReadCloser: r.Body, at: 5000}
				}
				next.ServeHTTP(w, r)
			})
		}
		s := start(t, strict, damage)
		dir := t.TempDir()
		path, data := writeFile(t, dir, 8<<16+100, 5) // 9 parts
		ev := &events{}
		res, err := (&upload.Uploader{Client: client(t, s), Opts: opts(t, ev, filepath.Join(dir, "journal"))}).Put(context.Background(), path)
		if err != nil {
			t.Fatalf("a part damaged once: %v", err)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("the uploaded file differs from the source")
		}
		if msg := ev.messages(); strings.Count(msg, "a part was damaged on the way") != 1 {
			t.Fatalf("warnings:\n%s", msg)
		}
		if ev.count(upload.EventPartDone) != 18 {
			t.Fatalf("%d parts acknowledged, want 9 and the 9 again", ev.count(upload.EventPartDone))
		}
	})
}

// The journal's per-part MD5 states come from the one whole-file pass: each
// is the MD5 state of the file's bytes up to the part's end. The upload is
// interrupted once the journal on disk holds such states (the pass reads
// the 1 MiB file in one chunk; parts go one at a time, each journaled with
// an fsync, so it gets there long before the 16th); an upload that ends
// without the pass having got there fails the test.
func TestPutJournalsTheMD5StateAtEachPartEnd(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	jdir := filepath.Join(dir, "j")
	path, data := writeFile(t, dir, 1<<20, 6) // 16 parts
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, jdir)}
	u.Opts.Concurrency = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hashedOnDisk := func() bool {
		names, _ := filepath.Glob(filepath.Join(jdir, "*.json"))
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				continue
			}
			if j, err := journal.Decode(b); err == nil {
				for _, p := range j.Parts {
					if p.MD5State != nil {
						return true
					}
				}
			}
		}
		return false
	}
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventPartDone && hashedOnDisk() {
			cancel()
		}
	}
	_, err := u.Put(ctx, path)
	ev.on = nil
	var fe *upload.FailedError
	if !errors.As(err, &fe) || !errors.Is(err, context.Canceled) || !fe.Kept {
		t.Fatalf("Put = %v, want it interrupted once the journal held the whole-file pass's states", err)
	}
	j := journalOf(t, jdir, fe)
	states := 0
	for i, p := range j.Parts {
		if p.MD5State == nil {
			continue
		}
		states++
		h := md5.New()
		h.Write(data[:p.Offset+p.Length])
		want, _ := h.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
		if !bytes.Equal(p.MD5State, want) {
			t.Errorf("part %d: the journaled state is not the file's MD5 state at its end", i+1)
		}
	}
	if states == 0 {
		t.Fatal("the journal kept after the interruption has no part's MD5 state")
	}
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs")
	}
}

func TestPlanPartSize(t *testing.T) {
	for _, tc := range []struct {
		size int64
		c    int
		want int64
	}{
		{1 << 20, 8, upload.MinAutoPartSize},
		{100 << 20, 8, 13 << 20},
		{512 << 20, 8, 64 << 20},
		{513 << 20, 8, 33 << 20},
		{8 << 30, 8, 64 << 20},
		{8 << 30, 3, 64 << 20},
		{200 << 20, 4, 50 << 20},
	} {
		if got := upload.PlanPartSize(tc.size, tc.c); got != tc.want {
			t.Errorf("PlanPartSize(%d, %d) = %d, want %d", tc.size, tc.c, got, tc.want)
		}
	}
}

// stallClient is a client whose parts are cut after stall of no progress.
func stallClient(t *testing.T, s *servertest.Server, stall, timeout time.Duration) *api.Client {
	t.Helper()
	c, err := api.New(api.Config{BaseURL: s.BaseURL, APIKey: "sk-test", HTTPClient: s.Client(), MaxRetries: 2,
		StallTimeout: stall, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stallParts makes the first n part requests stall as on a dead path: the
// server reads their first `read` bytes, says so on the channel returned,
// then neither reads nor answers until release is called (or their
// request's context ends). The others go through.
func stallParts(n int64, read int64) (wrap func(http.Handler) http.Handler, stopped <-chan struct{}, release func()) {
	var parts atomic.Int64
	stop := make(chan struct{}, n)
	let := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(let) }) }
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/parts") || parts.Add(1) > n {
				next.ServeHTTP(w, r)
				return
			}
			_, _ = io.CopyN(io.Discard, r.Body, read)
			stop <- struct{}{}
			select {
			case <-let:
			case <-r.Context().Done():
			}
			panic(http.ErrAbortHandler) // no answer
		})
	}, stop, release
}

// putInBackground runs u.Put(path) and returns where its result goes; if
// the test ends first, the Put is cancelled and waited for.
func putInBackground(t *testing.T, u *upload.Uploader, path string) <-chan putResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan putResult, 1)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		res, err := u.Put(ctx, path)
		done <- putResult{res, err}
	}()
	t.Cleanup(func() { cancel(); <-ended })
	return done
}

// Two parts whose requests stall (the server reads their first MiB, then
// neither reads nor answers, as a dead path) are cut once their stall
// timeout has passed, not before, and sent again, as retries marked
// stalled; the upload completes. The two parts are the only requests in
// flight (two connections) while the stall clock is ticked: once both
// have stopped and both watchdogs run, a tick a second ahead (within the
// minute's timeout) cuts nothing, and one an hour ahead cuts both. Nothing
// is ticked after that, so that the parts sent next are let be.
func TestPutCutsStalledPartsAndSendsThemAgain(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		clock := installStallClock(t)
		stall, stopped, release := stallParts(2, 1<<20)
		s := start(t, strict, stall)
		t.Cleanup(release) // before the server stops: it waits for its handlers
		dir := t.TempDir()
		path, data := writeFile(t, dir, 8<<20, 20) // 4 parts of 2 MiB
		ev := &events{}
		o := opts(t, ev, dir)
		o.PartSize, o.Concurrency = 2<<20, 2
		done := putInBackground(t, &upload.Uploader{Client: stallClient(t, s, time.Minute, 0), Opts: o}, path)
		for range 2 {
			select {
			case <-stopped:
			case r := <-done:
				t.Fatalf("Put ended before two parts stalled: %+v, %v; messages:\n%s", r.res, r.err, ev.messages())
			}
		}
		for {
			checked, cut := clock.Tick(time.Second)
			if cut != 0 {
				t.Fatalf("a second ahead, %d of %d watchdogs cut their part; want none within the timeout", cut, checked)
			}
			if checked == 2 {
				break
			}
			if checked > 2 {
				t.Fatalf("%d watchdogs running, want the 2 of the stalled parts", checked)
			}
			runtime.Gosched() // a watchdog is not running yet
		}
		if checked, cut := clock.Tick(time.Hour); checked != 2 || cut != 2 {
			t.Fatalf("an hour ahead: %d watchdogs checked, %d cut; want both stalled parts cut", checked, cut)
		}
		r := <-done
		if r.err != nil {
			t.Fatalf("Put = %v; messages:\n%s", r.err, ev.messages())
		}
		res := r.res
		if res.Stalls != 2 || res.Retries != 2 {
			t.Fatalf("result %+v, want 2 retries, both stalls", res)
		}
		stalled := 0
		for _, e := range ev.list {
			if e.Type == upload.EventRetry && e.Reason == "stalled" && strings.HasPrefix(e.Error, "stalled: ") {
				stalled++
			}
		}
		if stalled != 2 {
			t.Fatalf("%d retry events with reason stalled, want 2", stalled)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs")
		}
	})
}

// startThrottled runs the bundled server behind a listener that lets each
// connection deliver bytesPerSecond, as a far-away link would.
func startThrottled(t *testing.T, cfg server.Config, bytesPerSecond int64) *servertest.Server {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	srv := server.New(cfg)
	hs := httptest.NewUnstartedServer(noExtensions(t)(srv))
	hs.Listener = faults.ThrottleListener(hs.Listener, bytesPerSecond)
	hs.Start()
	s := &servertest.Server{Server: hs, Store: st, API: srv, BaseURL: hs.URL + "/v1"}
	// Cut what is left of cancelled uploads (their bytes would otherwise
	// drain from the kernel's buffers at the throttled rate) before Stop
	// waits for the requests.
	t.Cleanup(func() { hs.CloseClientConnections(); s.Stop() })
	return s
}

// A part that takes longer than --timeout is not cut: the timeout bounds
// the JSON calls; a part is bounded by its progress. The server holds the
// part (it reads its first 64 KiB, then waits) for as long as the test
// says: if the part's request carries a deadline, until that has passed
// and ended the request; then it lets the part go on. Meanwhile the part's
// watchdog, ticked a second ahead (its stall timeout is a minute), checks
// it and lets it be. The part goes through in one attempt, and the JSON
// calls did carry the timeout.
func TestPutSlowPartOutlastsTheTimeout(t *testing.T) {
	clock := installStallClock(t)
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	var partsSeen atomic.Int64
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") && partsSeen.Add(1) == 1 {
				head, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
				if err != nil {
					panic(http.ErrAbortHandler)
				}
				held <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				r.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
			}
			next.ServeHTTP(w, r)
		})
	}
	s := start(t, true, hold)
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo)

	// The client's transport sees each request's context: the first part's
	// is handed to the test; a deadline on a JSON call is noted.
	partCtx := make(chan context.Context, 1)
	var jsonDeadline atomic.Bool
	base := s.Client()
	hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		_, hasDeadline := req.Context().Deadline()
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/parts") {
			select {
			case partCtx <- req.Context():
			default:
			}
		} else if hasDeadline {
			jsonDeadline.Store(true)
		}
		return base.Transport.RoundTrip(req)
	})}
	c, err := api.New(api.Config{BaseURL: s.BaseURL, APIKey: "sk-test", HTTPClient: hc, MaxRetries: 2,
		StallTimeout: time.Minute, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path, data := writeFile(t, dir, 512<<10, 21)
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize = 512 << 10
	done := putInBackground(t, &upload.Uploader{Client: c, Opts: o}, path)
	var ctx context.Context
	select {
	case ctx = <-partCtx:
	case r := <-done:
		t.Fatalf("Put ended before its part was sent: %+v, %v; messages:\n%s", r.res, r.err, ev.messages())
	}
	<-held
	if deadline, ok := ctx.Deadline(); ok {
		t.Errorf("the part's request has a deadline (%v after it began to be held): the timeout bounds it", time.Until(deadline))
		<-ctx.Done() // the part is held past it
	} else {
		for {
			checked, cut := clock.Tick(time.Second)
			if cut != 0 {
				t.Fatalf("a second ahead, the watchdog cut the part; its stall timeout is a minute")
			}
			if checked == 1 {
				break
			}
			runtime.Gosched() // the watchdog is not running yet
		}
	}
	letGo()
	r := <-done
	if r.err != nil {
		t.Fatalf("Put = %v; messages:\n%s", r.err, ev.messages())
	}
	if r.res.Retries != 0 || r.res.Stalls != 0 {
		t.Fatalf("%d retries (%d stalls), want none; messages:\n%s", r.res.Retries, r.res.Stalls, ev.messages())
	}
	if !jsonDeadline.Load() {
		t.Fatal("no JSON call carried a deadline: the 1 s timeout was not in force")
	}
	if !bytes.Equal(content(t, s, r.res.FileID), data) {
		t.Fatal("content differs")
	}
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// On a link too slow for the session, the warning comes from the bytes
// going out, before any part is acknowledged.
func TestPutWarnsEarlyOnALinkTooSlowForTheSession(t *testing.T) {
	s := startThrottled(t, server.Config{Strict: true, UploadTTL: 20 * time.Second}, 128<<10)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 5<<20, 22) // one part: about 40 s at 128 KiB/s
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Concurrency = 5<<20, 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var warnedAt atomic.Int64
	begin := time.Now()
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventWarning && strings.Contains(e.Message, "expires in") {
			warnedAt.CompareAndSwap(0, int64(time.Since(begin)))
			cancel()
		}
	}
	_, err := (&upload.Uploader{Client: stallClient(t, s, time.Minute, 0), Opts: o}).Put(ctx, path)
	t.Logf("warned after %v, returned after %v", time.Duration(warnedAt.Load()), time.Since(begin))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v; messages:\n%s", err, ev.messages())
	}
	if at := time.Duration(warnedAt.Load()); at == 0 || at > 15*time.Second || ev.count(upload.EventPartDone) != 0 {
		t.Fatalf("warned after %v with %d parts done; messages:\n%s", at, ev.count(upload.EventPartDone), ev.messages())
	}
	if !strings.Contains(ev.messages(), "consider more --concurrency or a faster network") {
		t.Fatalf("messages:\n%s", ev.messages())
	}
}

// Progress moves with the bytes on their way: before the one part of a file
// is acknowledged, progress events already count its bytes sent.
func TestPutReportsTheBytesOnTheirWay(t *testing.T) {
	s := startThrottled(t, server.Config{Strict: true}, 512<<10)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 3<<20, 23) // one part: about 6 s at 512 KiB/s
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Concurrency = 3<<20, 1
	if _, err := (&upload.Uploader{Client: stallClient(t, s, time.Minute, 0), Opts: o}).Put(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	before := 0
	for _, e := range ev.list {
		if e.BytesSent > e.BytesTotal || e.BytesSent < e.BytesDone {
			t.Fatalf("%s event: %d bytes sent, %d done, of %d", e.Type, e.BytesSent, e.BytesDone, e.BytesTotal)
		}
		if e.Type == upload.EventProgress && e.PartsDone == 0 && e.BytesSent > 0 {
			before++
		}
	}
	if before < 2 {
		t.Fatalf("%d progress events counted bytes before the part was acknowledged, want several", before)
	}
}

// A file that changed since its upload was interrupted: the old session is
// cancelled and its journal dropped, and the new content is uploaded.
func TestPutDropsTheJournalOfAChangedFile(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 512<<10, 24)
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	u.Opts.Concurrency = 1
	fe := interruptAfter(t, u, ev, path, 2)
	_, data := writeFile(t, dir, 600<<10, 25) // same path, other size and bytes
	ev2 := &events{}
	u.Opts.Report = ev2.report
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed || !strings.Contains(ev2.messages(), "changed (size or modification time) since upload "+fe.UploadID+" was interrupted") {
		t.Fatalf("result %+v; messages:\n%s", res, ev2.messages())
	}
	if st := uploadStatus(t, s, fe.UploadID); st != "cancelled" {
		t.Fatalf("the old session is %s, want cancelled", st)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs from the new file")
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(entries) != 0 {
		t.Fatalf("journals left: %v", entries)
	}
}

// A provider's minimum part size (--min-part-size) holds: the part size
// chosen for a 13 MiB file over 8 connections would be 5 MiB (3 parts);
// with a 7 MiB minimum the parts are 7 and 6 MiB. A --part-size below the
// minimum is refused before any request.
func TestPutRespectsTheMinimumPartSize(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 13<<20, 5)
	ev := &events{}
	o := opts(t, ev, filepath.Join(dir, "journal"))
	o.PartSize, o.Concurrency = 0, 8
	if got := o.PartSizeFor(13 << 20); got != 5<<20 {
		t.Fatalf("part size for 13 MiB without a minimum = %d, want 5 MiB", got)
	}
	o.MinPartSize = 7 << 20
	if got := o.PartSizeFor(13 << 20); got != 7<<20 {
		t.Fatalf("part size for 13 MiB = %d, want the 7 MiB minimum", got)
	}
	res, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.PartsSent != 2 || !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatalf("sent %d parts (want 7+6 MiB: 2), or the content differs", res.PartsSent)
	}
	o.PartSize = 1 << 20
	if err := o.Check(); err == nil || !strings.Contains(err.Error(), "below the provider's minimum part size") {
		t.Errorf("a part size below the minimum: %v", err)
	}
}
