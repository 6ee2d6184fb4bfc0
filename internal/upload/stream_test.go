package upload_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/upload"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// oddChunks are the sizes feed writes in turn: the engine's reads must not
// depend on how the producer writes.
var oddChunks = []int{1, 7, 4093, 65537, 333, 100003, 2}

// feed writes data to w in odd chunk sizes, pausing now and then, and closes
// w; it stops early when w's reader is gone.
func feed(w *io.PipeWriter, data []byte, pause time.Duration) {
	for i := 0; len(data) > 0; i++ {
		n := min(oddChunks[i%len(oddChunks)], len(data))
		if _, err := w.Write(data[:n]); err != nil {
			return
		}
		data = data[n:]
		if pause > 0 && i%8 == 7 {
			time.Sleep(pause)
		}
	}
	_ = w.Close()
}

// pipeOf is a reader fed with data in the background.
func pipeOf(t *testing.T, data []byte, pause time.Duration) io.Reader {
	pr, pw := io.Pipe()
	go feed(pw, data, pause)
	t.Cleanup(func() { _ = pr.Close() })
	return pr
}

func streamOpts(ev *events, tmp string) upload.Options {
	return upload.Options{Purpose: "video", PartSize: 64 << 10, Concurrency: 4,
		Retry:  retry.Policy{Retries: 8, Base: 5 * time.Millisecond, Max: 100 * time.Millisecond},
		Report: ev.report, TempDir: tmp}
}

// spoolFiles counts this process's open files in dir whose name is a spool
// file's, removed or not (from /proc/self/fd); -1 where there is no /proc.
func spoolFiles(dir string) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, filepath.Join(dir, "uploads-stdin-")) {
			n++
		}
	}
	return n
}

// checkNoSpool fails the test if dir holds anything, or if a spool file in
// it is still open after a short grace (a Read that had to return first).
func checkNoSpool(t *testing.T, dir string) {
	t.Helper()
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("temporary directory after the upload: %v %v", entries, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for spoolFiles(dir) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d spool files still open", spoolFiles(dir))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// peakSpools samples the open spool files of dir every interval until stop
// is called and returns the most seen at once.
func peakSpools(dir string, interval time.Duration) (stop func() int) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if n := int64(spoolFiles(dir)); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() int { close(done); wg.Wait(); return int(peak.Load()) }
}

func mimeOf(t *testing.T, s *servertest.Server, uploadID string) string {
	t.Helper()
	u, err := s.Store.GetUpload(server.OrgOf("sk-test"), uploadID)
	if err != nil {
		t.Fatal(err)
	}
	return u.MimeType
}

func TestPutStreamRoundTrip(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		s := start(t, strict)
		tmp := t.TempDir()
		data := randomBytes(1<<20+12345, 21) // 17 parts, the last short
		ev := &events{}
		peak := peakSpools(tmp, time.Millisecond)
		u := &upload.Uploader{Client: client(t, s), Opts: streamOpts(ev, tmp)}
		res, err := u.PutStream(context.Background(), pipeOf(t, data, time.Millisecond), int64(len(data)), "clip.mp4")
		spools := peak()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("the uploaded file differs from the stream")
		}
		if res.File != "clip.mp4" || res.Size != int64(len(data)) || res.MD5 != md5hex(data) || res.PartsSent != 17 ||
			res.BytesSent != int64(len(data)) || res.Resumed || res.Recovered {
			t.Fatalf("result = %+v", res)
		}
		if ev.count(upload.EventStart) != 1 || ev.count(upload.EventPartDone) != 17 || ev.count(upload.EventCompleted) != 1 ||
			ev.count(upload.EventPartStarted) < 17 {
			t.Fatalf("events: %d start, %d part_started, %d part_done, %d completed", ev.count(upload.EventStart),
				ev.count(upload.EventPartStarted), ev.count(upload.EventPartDone), ev.count(upload.EventCompleted))
		}
		ev.mu.Lock()
		for _, e := range ev.list {
			if e.File != "clip.mp4" || e.BytesTotal != int64(len(data)) || (e.Type != upload.EventStart && e.PartsTotal != 17) ||
				e.BytesSent < e.BytesDone || e.BytesSent > e.BytesTotal {
				t.Errorf("event %+v", e)
			}
		}
		ev.mu.Unlock()
		if got := mimeOf(t, s, res.UploadID); got != "video/mp4" {
			t.Fatalf("MIME type %q, want video/mp4 (from the extension)", got)
		}
		if spools > 4 {
			t.Fatalf("%d spool files open at once with --concurrency 4", spools)
		}
		checkNoSpool(t, tmp)
	})
}

func TestPutStreamSniffsTheMIMEType(t *testing.T) {
	for _, size := range []int{100, 200 << 10} { // shorter and longer than what is sniffed
		s := start(t, true)
		tmp := t.TempDir()
		data := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), randomBytes(size-16, 4)...)
		o := streamOpts(&events{}, tmp)
		o.Purpose = "vision"
		res, err := (&upload.Uploader{Client: client(t, s), Opts: o}).PutStream(context.Background(), pipeOf(t, data, 0), int64(size), "frame")
		if err != nil {
			t.Fatal(err)
		}
		if got := mimeOf(t, s, res.UploadID); got != "image/png" {
			t.Fatalf("MIME type %q, want image/png (from the first bytes)", got)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("the bytes read to sniff the type were not uploaded as they were")
		}
		checkNoSpool(t, tmp)
	}
}

func TestPutStreamSizeMismatch(t *testing.T) {
	for _, c := range []struct {
		name     string
		declared int
		given    int
		filename string
		want     int64 // SizeMismatchError.Read
		session  bool
	}{
		{"short", 300 << 10, 200<<10 + 17, "clip.mp4", 200<<10 + 17, true},
		{"long", 200 << 10, 200<<10 + 5000, "clip.mp4", 200<<10 + 1, true},
		{"short at a part's end", 256 << 10, 128 << 10, "clip.mp4", 128 << 10, true},
		{"shorter than the sniffed bytes", 100, 10, "noext", 10, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, true)
			tmp := t.TempDir()
			_, err := (&upload.Uploader{Client: client(t, s), Opts: streamOpts(&events{}, tmp)}).PutStream(
				context.Background(), pipeOf(t, randomBytes(c.given, 5), 0), int64(c.declared), c.filename)
			var me *upload.SizeMismatchError
			var se *upload.StreamError
			if !errors.As(err, &me) || !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want a *StreamError around a *SizeMismatchError", err, err)
			}
			if me.Declared != int64(c.declared) || me.Read != c.want {
				t.Fatalf("mismatch = %+v, want declared %d, read %d", me, c.declared, c.want)
			}
			if !strings.Contains(err.Error(), "declared") {
				t.Fatalf("message %q does not say what was declared", err)
			}
			if c.session {
				if se.UploadID == "" || uploadStatus(t, s, se.UploadID) != "cancelled" {
					t.Fatalf("upload %q not cancelled", se.UploadID)
				}
				if !strings.Contains(err.Error(), "cannot be resumed") {
					t.Fatalf("message %q does not say the upload must be run again", err)
				}
			} else if se.UploadID != "" {
				t.Fatalf("a session (%s) was created for a stream known to be short", se.UploadID)
			}
			if ids := files(t, s); len(ids) != 0 {
				t.Fatalf("files %v were made", ids)
			}
			checkNoSpool(t, tmp)
		})
	}
}

func TestPutStreamRetriesPartsFromTheSpool(t *testing.T) {
	modes(t, func(t *testing.T, strict bool) {
		inj, err := faults.New(faults.Config{Rate: 0.3, Seed: 7, RetryAfter: 20 * time.Millisecond,
			Kinds: []faults.Kind{faults.Status503, faults.Lost, faults.Drop}, Endpoints: []faults.Endpoint{faults.Parts}})
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, strict, inj.Wrap)
		tmp := t.TempDir()
		data := randomBytes(2<<20, 6) // 32 parts
		ev := &events{}
		res, err := (&upload.Uploader{Client: client(t, s), Opts: streamOpts(ev, tmp)}).PutStream(
			context.Background(), pipeOf(t, data, 0), int64(len(data)), "clip.mp4")
		if err != nil {
			t.Fatalf("with 30%% faults on parts: %v", err)
		}
		if !bytes.Equal(content(t, s, res.FileID), data) {
			t.Fatal("content differs after retries")
		}
		if inj.Injected() < 5 || res.Retries < int(inj.Injected()) || ev.count(upload.EventRetry) != res.Retries {
			t.Fatalf("injected %d faults, %d retries, %d retry events", inj.Injected(), res.Retries, ev.count(upload.EventRetry))
		}
		if got := len(files(t, s)); got != 1 {
			t.Fatalf("%d files, want 1", got)
		}
		checkNoSpool(t, tmp)
	})
}

// countingReader counts what was read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
	// reached, when set, is closed once at least at bytes have been read,
	// over once more than that have.
	at            int64
	reached, over chan struct{}
	once, once2   sync.Once
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if total := c.n.Add(int64(n)); c.reached != nil && total >= c.at {
		c.once.Do(func() { close(c.reached) })
		if total > c.at {
			c.once2.Do(func() { close(c.over) })
		}
	}
	return n, err
}

// While Concurrency parts are read and not acknowledged, nothing more is
// read: the producer waits, and the disk holds Concurrency parts at most.
func TestPutStreamStopsReadingWhenTheSpoolIsFull(t *testing.T) {
	release := make(chan struct{})
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	s := start(t, true, hold)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the server stops: it waits for its handlers
	tmp := t.TempDir()
	data := randomBytes(1<<20, 8)
	const full = 3 * 64 << 10
	src := &countingReader{r: pipeOf(t, data, 0), at: full, reached: make(chan struct{}), over: make(chan struct{})}
	ev := &events{}
	onTheirWay := make(chan struct{}) // a progress event counted the held parts' bytes as sent
	var seen sync.Once
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventProgress && e.BytesDone == 0 && e.BytesSent == full {
			seen.Do(func() { close(onTheirWay) })
		}
	}
	o := streamOpts(ev, tmp)
	o.Concurrency = 3
	type result struct {
		res *upload.Result
		err error
	}
	done := make(chan result, 1)
	peak := peakSpools(tmp, time.Millisecond)
	u := &upload.Uploader{Client: client(t, s), Opts: o}
	go func() {
		res, err := u.PutStream(context.Background(), src, int64(len(data)), "clip.mp4")
		done <- result{res, err}
	}()
	// The 3 parts are read, then sent: the engine has had all that time,
	// and a progress tick, to read more if it would.
	for _, c := range []struct {
		ch   <-chan struct{}
		what string
	}{{src.reached, "the 3 parts read"}, {onTheirWay, "a progress event counting the 3 parts' bytes as sent"}} {
		select {
		case <-c.ch:
		case <-src.over:
			t.Fatalf("read %d bytes while 3 parts were unacknowledged, want %d", src.n.Load(), full)
		case r := <-done:
			t.Fatalf("PutStream returned (%+v, %v) before %s", r.res, r.err, c.what)
		}
	}
	if got := src.n.Load(); got != full {
		t.Fatalf("read %d bytes while 3 parts were unacknowledged, want %d", got, full)
	}
	if n := spoolFiles(tmp); n != 3 && n != -1 {
		t.Fatalf("%d spool files open, want 3", n)
	}
	free()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if spools := peak(); spools > 3 {
		t.Fatalf("%d spool files open at once with --concurrency 3", spools)
	}
	if !bytes.Equal(content(t, s, r.res.FileID), data) {
		t.Fatal("content differs")
	}
	checkNoSpool(t, tmp)
}

// Ctrl-C cancels the session and leaves no spool file, even while the
// reader waits for bytes that do not come.
func TestPutStreamInterrupted(t *testing.T) {
	s := start(t, true)
	tmp := t.TempDir()
	data := randomBytes(1<<20, 9) // 16 parts
	pr, pw := io.Pipe()
	go func() {
		// Six parts and a bit, then nothing: the reader blocks in Read.
		if _, err := pw.Write(data[:6*64<<10+100]); err != nil {
			return
		}
	}()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev := &events{}
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventPartDone && e.PartsDone == 2 {
			cancel()
		}
	}
	o := streamOpts(ev, tmp)
	o.Concurrency = 2
	began := time.Now()
	_, err := (&upload.Uploader{Client: client(t, s), Opts: o}).PutStream(ctx, pr, int64(len(data)), "clip.mp4")
	if time.Since(began) > 10*time.Second {
		t.Fatalf("took %s to stop", time.Since(began))
	}
	var se *upload.StreamError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v (%T), want a *StreamError of an interruption", err, err)
	}
	for _, want := range []string{"interrupted", se.UploadID + " was cancelled", "cannot be resumed", "run it again"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("message %q lacks %q", err, want)
		}
	}
	if se.PartsDone < 2 || se.Parts != 16 {
		t.Fatalf("error %+v", se)
	}
	if st := uploadStatus(t, s, se.UploadID); st != "cancelled" {
		t.Fatalf("upload %s is %s, want cancelled", se.UploadID, st)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("spool files left at return: %v", entries)
	}
	_ = pw.CloseWithError(errors.New("producer gone")) // the blocked Read returns
	checkNoSpool(t, tmp)
}

// A failure of a part that is not retried cancels the session too.
func TestPutStreamCancelsOnARejectedPart(t *testing.T) {
	var parts atomic.Int64
	reject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") && parts.Add(1) == 3 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"refused (test)","type":"invalid_request_error","param":null,"code":null}}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	s := start(t, true, reject)
	tmp := t.TempDir()
	data := randomBytes(1<<20, 10)
	_, err := (&upload.Uploader{Client: client(t, s), Opts: streamOpts(&events{}, tmp)}).PutStream(
		context.Background(), pipeOf(t, data, 0), int64(len(data)), "clip.mp4")
	var se *upload.StreamError
	if ae, ok := api.ErrorOf(err); !errors.As(err, &se) || !ok || ae.Message != "refused (test)" || !strings.Contains(err.Error(), "cannot be resumed") {
		t.Fatalf("err = %v", err)
	}
	if st := uploadStatus(t, s, se.UploadID); st != "cancelled" {
		t.Fatalf("upload is %s, want cancelled", st)
	}
	checkNoSpool(t, tmp)
}

func TestPutStreamFindsTheFileWhenTheCompleteAnswerIsLost(t *testing.T) {
	inj, err := faults.New(faults.Config{Rate: 1, Kinds: []faults.Kind{faults.Lost}, Endpoints: []faults.Endpoint{faults.Complete}})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, true, inj.Wrap)
	tmp := t.TempDir()
	data := randomBytes(300<<10, 11)
	ev := &events{}
	res, err := (&upload.Uploader{Client: client(t, s), Opts: streamOpts(ev, tmp)}).PutStream(
		context.Background(), pipeOf(t, data, 0), int64(len(data)), "clip.mp4")
	if err != nil {
		t.Fatalf("PutStream = %v; messages:\n%s", err, ev.messages())
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
	checkNoSpool(t, tmp)
}

func TestPutStreamRefusesBadInputBeforeAnyRequest(t *testing.T) {
	s := start(t, true, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("a request was sent: %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusTeapot)
		})
	})
	tmp := t.TempDir()
	for _, c := range []struct {
		name     string
		size     int64
		filename string
		tempDir  string
		want     string
	}{
		{"empty", 0, "a.mp4", tmp, "out of range"},
		{"too big", upload.MaxFileSize + 1, "a.mp4", tmp, "out of range"},
		{"no filename", 10, "", tmp, "filename is required"},
		{"no spool directory", 10, "a.mp4", filepath.Join(tmp, "missing"), "spool files"},
	} {
		o := streamOpts(&events{}, c.tempDir)
		_, err := (&upload.Uploader{Client: client(t, s), Opts: o}).PutStream(context.Background(), strings.NewReader("0123456789"), c.size, c.filename)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// BenchmarkPutStreamMemory measures the peak heap of a 256 MiB stream in
// 64 MiB parts over 4 connections, beside Put of the same bytes from a
// file, in the same process as the server (whose own buffers count in both):
//
//	go test -run '^$' -bench PutStreamMemory -benchtime 1x ./internal/upload/
func BenchmarkPutStreamMemory(b *testing.B) {
	const size = 256 << 20
	chunk := make([]byte, 1<<20)
	gen := func(seed uint64, w io.Writer) string {
		r := rand.New(rand.NewChaCha8([32]byte{byte(seed)}))
		h := md5.New()
		for off := 0; off < size; off += len(chunk) {
			for i := 0; i < len(chunk); i += 8 {
				v := r.Uint64()
				for k := range 8 {
					chunk[i+k] = byte(v >> (8 * k))
				}
			}
			h.Write(chunk)
			if _, err := w.Write(chunk); err != nil {
				return ""
			}
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	opts := func(tmp string) upload.Options {
		return upload.Options{Purpose: "video", PartSize: 64 << 20, Concurrency: 4,
			Retry: retry.Policy{Retries: 3, Base: 5 * time.Millisecond, Max: 100 * time.Millisecond}, TempDir: tmp}
	}
	measure := func(b *testing.B, f func() (*upload.Result, error)) (peakMiB float64) {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		_, err := f()
		close(done)
		if err != nil {
			b.Fatal(err)
		}
		return float64(peak.Load()-min(peak.Load(), base.HeapInuse)) / (1 << 20)
	}
	b.Run("stream", func(b *testing.B) {
		s := servertest.Start(b, server.Config{Strict: true})
		c := benchClient(b, s)
		tmp := b.TempDir()
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			pr, pw := io.Pipe()
			sums := make(chan string, 1)
			go func() { sums <- gen(1, pw); _ = pw.Close() }()
			var res *upload.Result
			stop := peakSpools(tmp, 50*time.Millisecond) // rarely: its own garbage would count
			peak := measure(b, func() (r *upload.Result, err error) {
				res, err = (&upload.Uploader{Client: c, Opts: opts(tmp)}).PutStream(context.Background(), pr, size, "big.mp4")
				return res, err
			})
			b.ReportMetric(float64(stop()), "peak-spool-files")
			if sum := <-sums; res.MD5 != sum {
				b.Fatalf("MD5 %s, want %s", res.MD5, sum)
			}
			b.ReportMetric(peak, "peak-heap-MiB")
		}
	})
	b.Run("put", func(b *testing.B) {
		s := servertest.Start(b, server.Config{Strict: true})
		c := benchClient(b, s)
		path := filepath.Join(b.TempDir(), "big.mp4")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		gen(1, f)
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			peak := measure(b, func() (*upload.Result, error) {
				return (&upload.Uploader{Client: c, Opts: opts(b.TempDir())}).Put(context.Background(), path)
			})
			b.ReportMetric(peak, "peak-heap-MiB")
		}
	})
}

func benchClient(tb testing.TB, s *servertest.Server) *api.Client {
	tb.Helper()
	c, err := api.New(api.Config{BaseURL: s.BaseURL, APIKey: "sk-test", HTTPClient: s.Client(), MaxRetries: 2})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
