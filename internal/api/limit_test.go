package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// partServer answers every request, once its body is read whole, with a
// part object; it records the bytes it received. The client's stall
// timeout is a minute: the tests drive the watchdog with a StallClock.
func partServer(t *testing.T) (*Client, *bytes.Buffer) {
	t.Helper()
	var got bytes.Buffer
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Reset()
		if _, err := io.Copy(&got, r.Body); err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"part_1","object":"upload.part","upload_id":"upload_1","created_at":1}`))
	}))
	t.Cleanup(hs.Close)
	c, err := New(Config{BaseURL: hs.URL + "/v1", APIKey: "sk-test", HTTPClient: hs.Client(), StallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c, &got
}

// installStallClock installs a StallClock for the rest of the test.
func installStallClock(t *testing.T) *StallClock {
	c := NewStallClock()
	t.Cleanup(SetStallClock(c))
	return c
}

// A part paced by a limiter is not cut while a read waits on it, however
// long: at each wait the watchdog checks as if an hour had passed since
// the last byte moved (its timeout is a minute), and lets the request be.
// The part's bytes all arrive, and OnRead counts each one once.
func TestAddPartPacedByALimiterIsNotAStall(t *testing.T) {
	clock := installStallClock(t)
	c, got := partServer(t)
	data := randomBytes(160 << 10)
	var counted int
	body := Stream(bytes.NewReader(data), int64(len(data)))
	body.Limiter = rate.NewLimiter(128<<10, 64<<10)
	body.OnRead = func(n int) { counted += n }
	result := make(chan error, 1)
	go func() {
		_, err := c.AddPart(context.Background(), "upload_1", body)
		result <- err
	}()
	waits, checks := 0, 0
	for {
		select {
		case release := <-clock.Waits():
			waits++
			checked, cut := clock.Tick(time.Hour)
			checks += checked
			if cut != 0 {
				t.Errorf("wait %d on the limiter was taken for a stall", waits)
			}
			release()
			continue
		case err := <-result:
			if err != nil {
				t.Fatalf("AddPart = %v, want the part sent whole however slowly", err)
			}
		}
		break
	}
	if waits < 2 || checks < 1 {
		t.Fatalf("%d waits on the limiter, %d checks by the watchdog during them; want at least 2 and 1", waits, checks)
	}
	if !bytes.Contains(got.Bytes(), data) {
		t.Fatal("the server did not receive the part's bytes")
	}
	if counted != got.Len() {
		t.Fatalf("OnRead counted %d bytes, the server received %d", counted, got.Len())
	}
}

// A wait on the limiter ends with the request's context, with the
// context's own error (rate.Limiter.WaitN would fail at once with an error
// of its own when the wait outlasts the deadline).
func TestAddPartLimiterWaitEndsWithTheContext(t *testing.T) {
	c, _ := partServer(t)
	lim := rate.NewLimiter(1<<10, 64<<10)
	lim.ReserveN(time.Now(), 64<<10) // the burst, then a minute's worth:
	lim.ReserveN(time.Now(), 64<<10) // the first byte waits a minute
	body := Stream(bytes.NewReader(randomBytes(1<<10)), 1<<10)
	body.Limiter = lim
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.AddPart(ctx, "upload_1", body)
	var se *StalledError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &se) {
		t.Fatalf("AddPart = %v, want the context's deadline", err)
	}
	if Classify(ctx, err) == Transient {
		t.Fatalf("error %v is classified transient", err)
	}
}

// Each read of a limited body is at most the limiter's burst, and waits
// for its bytes: a limiter that has nothing left lets nothing through.
func TestLimitedReadsAreCutToTheBurst(t *testing.T) {
	w := newWatchedBody(bytes.NewReader(make([]byte, 10000)), nil)
	w.lim, w.ctx = rate.NewLimiter(rate.Every(time.Hour), 1000), context.Background()
	n, err := w.Read(make([]byte, 32<<10))
	if n != 1000 || err != nil || w.n.Load() != 1000 {
		t.Fatalf("Read = %d, %v (counted %d), want 1000 bytes, the burst", n, err, w.n.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.ctx = ctx
	if n, err := w.Read(make([]byte, 32<<10)); n != 0 || !errors.Is(err, context.Canceled) || w.n.Load() != 1000 {
		t.Fatalf("Read with no tokens left and the context ended = %d, %v (counted %d)", n, err, w.n.Load())
	}
	if w.waiting.Load() {
		t.Fatal("still marked waiting after the wait ended")
	}
	w = newWatchedBody(bytes.NewReader(make([]byte, 10000)), nil)
	w.lim, w.ctx = rate.NewLimiter(rate.Inf, 0), context.Background()
	if n, err := w.Read(make([]byte, 32<<10)); n != 10000 || err != nil {
		t.Fatalf("Read under rate.Inf = %d, %v, want everything", n, err)
	}
}

// BenchmarkPartBodyLimited is BenchmarkPartBody through a limiter whose
// rate is never reached (1 TiB/s, the burst of NewLimiter's formula): the
// cost of the limiter's bookkeeping, one reservation per 32 KiB read.
func BenchmarkPartBodyLimited(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, randomBytes(size), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	lim := rate.NewLimiter(1<<40, 1<<30)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		src, err := Section(f, 0, size).Open()
		if err != nil {
			b.Fatal(err)
		}
		frame := newFrame()
		framed, length := frame.body(src, size)
		body := newWatchedBody(framed, nil)
		body.lim, body.ctx = lim, context.Background()
		n, err := io.CopyBuffer(writerOnly{io.Discard}, readerOnly{body}, buf)
		if err != nil || n != length {
			b.Fatalf("read %d of %d bytes: %v", n, length, err)
		}
	}
}
