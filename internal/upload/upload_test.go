package upload_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
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

func TestPutRoundTrip(t *testing.T) {
	s := servertest.Start(t, server.Config{})
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
	if res.PartsSent != 17 || res.BytesSent != int64(len(data)) || res.Resumed {
		t.Fatalf("result = %+v", res)
	}
	if ev.count(upload.EventPartDone) != 17 || ev.count(upload.EventCompleted) != 1 {
		t.Fatalf("events: %d part_done, %d completed", ev.count(upload.EventPartDone), ev.count(upload.EventCompleted))
	}
	// The journal is gone once the file exists.
	if entries, _ := os.ReadDir(filepath.Join(dir, "journal")); len(entries) != 0 {
		t.Fatalf("journal left after success: %v", entries)
	}
	// The MIME type came from the extension and the file is complete on the server.
	f := s.Do(t, "GET", "/files/"+res.FileID, "sk-test", nil, "").JSON(t)
	if f["bytes"] != float64(len(data)) || f["filename"] != "clip.mp4" {
		t.Fatalf("file = %v", f)
	}
}

func TestPutSurvivesInjectedFaults(t *testing.T) {
	inj, err := faults.New(faults.Config{Rate: 0.3, Seed: 11, RetryAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, server.Config{Faults: inj})
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
}

func TestPutRefusesBadInputBeforeAnyRequest(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.mp4")
	_ = os.WriteFile(empty, nil, 0o600)
	huge := filepath.Join(dir, "huge.mp4")
	fh, _ := os.Create(huge)
	_ = fh.Truncate(8<<30 + 1) // sparse
	fh.Close()
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	for path, want := range map[string]string{empty: "is empty", huge: "over the 8 GiB", dir: "not a regular file", filepath.Join(dir, "nope"): "cannot read"} {
		if _, err := u.Put(context.Background(), path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Put(%s) = %v, want an error saying %q", filepath.Base(path), err, want)
		}
	}
	for _, ps := range []int64{0, -1, 64<<20 + 1} {
		u.Opts.PartSize = ps
		if _, err := u.Put(context.Background(), empty); err == nil || !strings.Contains(err.Error(), "part size") {
			t.Errorf("part size %d: %v", ps, err)
		}
	}
	if l := s.Do(t, "GET", "/files", "sk-test", nil, "").JSON(t); len(l["data"].([]any)) != 0 {
		t.Fatal("a file was created")
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
	s := servertest.Start(t, server.Config{})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 1<<20, 3) // 16 parts
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, filepath.Join(dir, "j"))}
	u.Opts.Concurrency = 2
	fe := interruptAfter(t, u, ev, path, 6)
	if fe.PartsDone < 6 || fe.Journal == "" {
		t.Fatalf("failure = %+v", fe)
	}
	j, err := (&journal.Store{Dir: filepath.Join(dir, "j")}).Load(filepath.Base(strings.TrimSuffix(fe.Journal, ".json")))
	if err != nil {
		t.Fatal(err)
	}
	acked, _ := j.Acked()
	if j.MD5Offset == 0 && acked > 0 {
		t.Log("no MD5 state was saved (the hasher had not published yet)")
	}

	ev2 := &events{}
	u.Opts.Report = ev2.report
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.UploadID != fe.UploadID {
		t.Fatalf("not resumed: %+v (first upload %s)", res, fe.UploadID)
	}
	// Only the parts the journal did not hold were sent again.
	if res.PartsSent != 16-acked {
		t.Fatalf("resumed run sent %d parts, want %d (16 - %d journaled)", res.PartsSent, 16-acked, acked)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("resumed content differs")
	}
}

func TestPutStartsOverWhenTheSessionExpired(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 512<<10, 4)
	ev := &events{}
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, dir)}
	fe := interruptAfter(t, u, ev, path, 2)
	s.Clock.Advance(2 * time.Hour) // the server's session is now expired
	ev2 := &events{}
	u.Opts.Report = ev2.report
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed || res.UploadID == fe.UploadID || !strings.Contains(ev2.messages(), "is expired; starting over") {
		t.Fatalf("resumed an expired session: %+v; messages:\n%s", res, ev2.messages())
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs")
	}
}

func TestPutRefusesAFileModifiedDuringUpload(t *testing.T) {
	s := servertest.Start(t, server.Config{})
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
	if err == nil || !strings.Contains(err.Error(), "changed while it was being uploaded") {
		t.Fatalf("Put of a changing file = %v", err)
	}
	if l := s.Do(t, "GET", "/files", "sk-test", nil, "").JSON(t); len(l["data"].([]any)) != 0 {
		t.Fatal("a changed file was completed")
	}
	var fe *upload.FailedError
	if errors.As(err, &fe) && fe.Kept {
		t.Fatal("the journal of a changed file was kept")
	}
}

func TestPutCorruptJournal(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 256<<10, 6)
	ev := &events{}
	jdir := filepath.Join(dir, "j")
	u := &upload.Uploader{Client: client(t, s), Opts: opts(t, ev, jdir)}
	fe := interruptAfter(t, u, ev, path, 1)
	if err := os.WriteFile(fe.Journal, []byte(`{"version": 1, "upload_id": `), 0o600); err != nil {
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
	s := servertest.Start(t, server.Config{})
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
}

func TestPutCancelOnFailure(t *testing.T) {
	s := servertest.Start(t, server.Config{})
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
	if up := s.Do(t, "GET", "/uploads/"+fe.UploadID, "sk-test", nil, "").JSON(t); up["status"] != "cancelled" {
		t.Fatalf("session status = %v, want cancelled", up["status"])
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(entries) != 0 {
		t.Fatalf("journal kept: %v", entries)
	}
}

func TestPutWithoutJournal(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 300<<10, 9)
	ev := &events{}
	o := opts(t, ev, dir)
	o.Journal = nil
	res, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	got := content(t, s, res.FileID)
	if md5hex(got) != md5hex(data) {
		t.Fatal("content differs")
	}
	_ = io.Discard
}

// When the rate so far cannot finish before the session expires, the user is
// warned (and the expiry then fails the upload without keeping a journal).
func TestPutWarnsWhenTheSessionWillExpireFirst(t *testing.T) {
	s := servertest.Start(t, server.Config{UploadTTL: 2 * time.Second, Latency: 150 * time.Millisecond})
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
	ae, isAPI := api.ErrorOf(err)
	if !errors.As(err, &fe) || fe.Kept || !isAPI || ae.Code != "upload_expired" {
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

// A part damaged on its way (the server stores, and reports the MD5 of,
// other bytes than the file's) makes complete refuse the file's MD5; the
// upload then finds that part by its MD5, sends it again, and completes with
// the right bytes.
func TestPutRepairsAPartDamagedInTransit(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	var damaged sync.Once
	c := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("X-Part-Number") == "3" {
			damaged.Do(func() { r.Body = &flipByte{ReadCloser: r.Body, at: 5000} })
		}
		s.API.ServeHTTP(w, r)
	})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 8<<16+100, 5) // 9 parts
	ev := &events{}
	res, err := (&upload.Uploader{Client: c, Opts: opts(t, ev, filepath.Join(dir, "journal"))}).Put(context.Background(), path)
	if err != nil {
		t.Fatalf("a part damaged once: %v", err)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("the uploaded file differs from the source")
	}
	if res.PartsSent != 10 {
		t.Fatalf("sent %d parts, want the 9 and part 3 again", res.PartsSent)
	}
	if msg := ev.messages(); !strings.Contains(msg, "part 3 arrived damaged") || strings.Count(msg, "arrived damaged") != 1 {
		t.Fatalf("warnings:\n%s", msg)
	}
}

// withoutPartMD5 removes the md5 extension from part objects, as the real
// API answers.
type withoutPartMD5 struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *withoutPartMD5) Write(p []byte) (int, error) { return w.buf.Write(p) }

// Against a server that does not report what it stored, the journal records
// the MD5 of the file's own bytes for each acknowledged part.
func TestPutJournalsItsOwnPartMD5sWhenTheServerGivesNone(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	c := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/parts") {
			s.API.ServeHTTP(w, r)
			return
		}
		bw := &withoutPartMD5{ResponseWriter: w}
		s.API.ServeHTTP(bw, r)
		var obj map[string]any
		if err := json.Unmarshal(bw.buf.Bytes(), &obj); err != nil {
			t.Errorf("part answer: %v", err)
		}
		delete(obj, "md5")
		_ = json.NewEncoder(w).Encode(obj)
	})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 1<<20, 6) // 16 parts
	ev := &events{}
	u := &upload.Uploader{Client: c, Opts: opts(t, ev, filepath.Join(dir, "j"))}
	fe := interruptAfter(t, u, ev, path, 5)
	j, err := (&journal.Store{Dir: filepath.Join(dir, "j")}).Load(filepath.Base(strings.TrimSuffix(fe.Journal, ".json")))
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for i, p := range j.Parts {
		if p.ID == "" {
			continue
		}
		acked++
		if want := md5hex(data[p.Offset : p.Offset+p.Length]); p.MD5 != want {
			t.Errorf("part %d: journaled MD5 %q, want %s", i+1, p.MD5, want)
		}
	}
	if acked < 5 {
		t.Fatalf("%d parts journaled, want at least 5", acked)
	}
	res, err := u.Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("resumed content differs")
	}
}

// With the bundled server, complete carries the file's MD5 state after each
// part (X-MD5-Chain), and the server takes it.
func TestPutSendsTheMD5ChainToTheBundledServer(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	var chain string
	c := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/complete") {
			chain = r.Header.Get(server.MD5ChainHeader)
		}
		s.API.ServeHTTP(w, r)
	})
	dir := t.TempDir()
	path, data := writeFile(t, dir, 5<<16+777, 8) // 6 parts
	res, err := (&upload.Uploader{Client: c, Opts: opts(t, &events{}, filepath.Join(dir, "j"))}).Put(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatal("content differs")
	}
	links := strings.Split(chain, ",")
	if len(links) != 6 {
		t.Fatalf("X-MD5-Chain has %d entries, want 6: %q", len(links), chain)
	}
	h := md5.New()
	h.Write(data)
	want, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	if got, err := base64.StdEncoding.DecodeString(links[5]); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the last link is not the whole file's MD5 state: %v", err)
	}
}

// proxied is a client of the API through handler, an HTTP server of the
// test's in front of the bundled server (to damage or inspect requests).
func proxied(t *testing.T, handler http.HandlerFunc) *api.Client {
	t.Helper()
	hs := httptest.NewServer(handler)
	t.Cleanup(hs.Close)
	c, err := api.New(api.Config{BaseURL: hs.URL + "/v1", APIKey: "sk-test", HTTPClient: hs.Client(), MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
