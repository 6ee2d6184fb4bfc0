package upload_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/upload"
)

func TestNewLimiter(t *testing.T) {
	if upload.NewLimiter(0) != nil || upload.NewLimiter(-1) != nil {
		t.Fatal("NewLimiter of no rate is not nil")
	}
	for _, tc := range []struct{ bps, burst int64 }{
		{1, upload.MinLimiterBurst},
		{100 << 10, upload.MinLimiterBurst},
		{10 << 20, 1 << 20},
		{64 << 20, 64 << 20 / 10},
	} {
		lim := upload.NewLimiter(tc.bps)
		if float64(lim.Limit()) != float64(tc.bps) || int64(lim.Burst()) != tc.burst {
			t.Errorf("NewLimiter(%d): %v/s, burst %d; want burst %d", tc.bps, lim.Limit(), lim.Burst(), tc.burst)
		}
	}
}

// checkProgress fails unless every event's counters are consistent and the
// last one has the whole file acknowledged.
func checkProgress(t *testing.T, ev *events, size int64) {
	t.Helper()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.list {
		if e.BytesSent > e.BytesTotal || e.BytesSent < e.BytesDone || e.BytesTotal != size {
			t.Fatalf("%s event: %d bytes sent, %d done, of %d", e.Type, e.BytesSent, e.BytesDone, e.BytesTotal)
		}
	}
	if last := ev.list[len(ev.list)-1]; last.Type != upload.EventCompleted || last.BytesDone != size || last.PartsDone != last.PartsTotal {
		t.Fatalf("last event %+v, want completed with all %d bytes done", last, size)
	}
}

// Two uploads that share one limiter both go through it, byte for byte:
// its tokens (a burst larger than both files, and a rate of one byte an
// hour, so nothing waits and nothing refills) drop by the bytes of both
// files plus the parts' multipart framing. Both complete (the server
// checks the MD5) with their counters right.
func TestPutSharesALimiter(t *testing.T) {
	s := start(t, true)
	lim := rate.NewLimiter(rate.Every(time.Hour), 8<<20)
	const size = 1 << 20
	var wg sync.WaitGroup
	results := make([]*upload.Result, 2)
	errs := make([]error, 2)
	evs := []*events{{}, {}}
	datas := make([][]byte, 2)
	for i := range 2 {
		dir := t.TempDir()
		path, data := writeFile(t, dir, size, uint64(40+i))
		datas[i] = data
		o := opts(t, evs[i], dir)
		o.PartSize, o.Limiter = 128<<10, lim
		wg.Go(func() {
			results[i], errs[i] = (&upload.Uploader{Client: client(t, s), Opts: o}).Put(context.Background(), path)
		})
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("Put %d = %v; messages:\n%s", i, errs[i], evs[i].messages())
		}
		res := results[i]
		if res.BytesSent != size || res.PartsSent != 8 || res.Retries != 0 {
			t.Fatalf("result %+v, want 8 parts, %d bytes, no retries", res, size)
		}
		if !bytes.Equal(content(t, s, res.FileID), datas[i]) {
			t.Fatalf("content of file %d differs", i)
		}
		checkProgress(t, evs[i], size)
	}
	used := int64(8<<20 - lim.Tokens())
	if framing := used - 2*size; framing < 0 || framing > 16*512 {
		t.Fatalf("the limiter let %d bytes through, want the 2 files' %d and at most 512 bytes of framing for each of 16 parts", used, 2*size)
	}
}

// A limiter whose burst (16 KiB) is smaller than the HTTP client's reads
// cuts them: every part still arrives whole, the MD5 matches, the counters
// add up.
func TestPutThroughASmallBurst(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 2<<20, 42)
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Limiter = 256<<10, rate.NewLimiter(64<<20, 16<<10)
	res, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(context.Background(), path)
	if err != nil {
		t.Fatalf("Put = %v; messages:\n%s", err, ev.messages())
	}
	if res.BytesSent != 2<<20 || res.Retries != 0 || !bytes.Equal(content(t, s, res.FileID), data) {
		t.Fatalf("result %+v; or the content differs", res)
	}
	checkProgress(t, ev, 2<<20)
}

// installStallClock drives the stall watchdogs and the waits on limiters
// with a StallClock for the rest of the test.
func installStallClock(t *testing.T) *api.StallClock {
	c := api.NewStallClock()
	t.Cleanup(api.SetStallClock(c))
	return c
}

// putResult is what Put returned.
type putResult struct {
	res *upload.Result
	err error
}

// At a low rate, waits on the limiter are not stalls: at each wait the
// watchdog of the part (one connection, so that its is the only one)
// checks as if an hour had passed since its bytes last moved, 60 times
// its stall timeout, and lets it be. No part is cut, none is retried.
func TestPutAtALowRateIsNotAStall(t *testing.T) {
	clock := installStallClock(t)
	s := start(t, true)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 512<<10, 43)
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Limiter, o.Concurrency = 128<<10, upload.NewLimiter(256<<10), 1
	done := make(chan putResult, 1)
	go func() {
		res, err := (&upload.Uploader{Client: stallClient(t, s, time.Minute, 0), Opts: o}).Put(context.Background(), path)
		done <- putResult{res, err}
	}()
	waits, checks, cuts := 0, 0, 0
	var r putResult
	for r.res == nil && r.err == nil {
		select {
		case release := <-clock.Waits():
			waits++
			checked, cut := clock.Tick(time.Hour)
			checks, cuts = checks+checked, cuts+cut
			release()
		case r = <-done:
		}
	}
	if r.err != nil {
		t.Fatalf("Put = %v; messages:\n%s", r.err, ev.messages())
	}
	if r.res.Stalls != 0 || r.res.Retries != 0 || cuts != 0 {
		t.Fatalf("result %+v, %d cuts: waits on the limiter were taken for stalls", r.res, cuts)
	}
	if waits < 4 || checks < 4 {
		t.Fatalf("%d waits on the limiter, %d checks by watchdogs during them; want at least 4 of each", waits, checks)
	}
	if !bytes.Equal(content(t, s, r.res.FileID), data) {
		t.Fatal("content differs")
	}
	checkProgress(t, ev, 512<<10)
}

// Under a limiter, a part whose connection really stalls (the server stops
// reading after its first 64 KiB) is still cut and sent again: once the
// server has stopped, the watchdog is ticked an hour ahead (its timeout is
// a minute) until it cuts, which it does unless the read waits on the
// limiter (then the wait is let go and the watchdog ticked again).
func TestPutCutsAStallUnderALimiter(t *testing.T) {
	clock := installStallClock(t)
	var parts atomic.Int64
	stopped := make(chan struct{})
	stall := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") && parts.Add(1) == 1 {
				faults.StallRequest(w, r, 64<<10, 30*time.Second)
				close(stopped)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	s := start(t, true, stall)
	dir := t.TempDir()
	path, data := writeFile(t, dir, 8<<20, 44)
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Limiter, o.Concurrency = 4<<20, upload.NewLimiter(64<<20), 1
	done := make(chan putResult, 1)
	go func() {
		res, err := (&upload.Uploader{Client: stallClient(t, s, time.Minute, 0), Opts: o}).Put(context.Background(), path)
		done <- putResult{res, err}
	}()
	var r putResult
	cuts := 0
	for r.res == nil && r.err == nil {
		select {
		case release := <-clock.Waits():
			release()
		case <-stopped:
			for ticks := 0; cuts == 0; {
				// The read may be handing its wait to the clock: let it go.
				select {
				case release := <-clock.Waits():
					release()
				default:
				}
				checked, cut := clock.Tick(time.Hour)
				if checked == 0 { // its watchdog is not running yet
					runtime.Gosched()
					continue
				}
				if ticks++; ticks > 1000 {
					t.Fatalf("the stalled part was not cut after %d ticks of an hour", ticks)
				}
				cuts += cut
			}
			stopped = nil
		case r = <-done:
		}
	}
	if r.err != nil {
		t.Fatalf("Put = %v; messages:\n%s", r.err, ev.messages())
	}
	if r.res.Stalls != 1 || r.res.Retries != 1 || cuts != 1 {
		t.Fatalf("result %+v, %d cuts; want the stalled part cut once and sent again", r.res, cuts)
	}
	if !bytes.Equal(content(t, s, r.res.FileID), data) {
		t.Fatal("content differs")
	}
}

// Interrupted (Ctrl-C) while every connection waits on the limiter, the
// upload ends at once with the cancellation, keeps its journal for a
// resume, and never counted bytes that did not go.
func TestPutInterruptedWhileWaitingOnTheLimiter(t *testing.T) {
	s := start(t, true)
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 512<<10, 45)
	lim := rate.NewLimiter(1<<10, 64<<10)
	lim.ReserveN(time.Now(), 64<<10) // the burst, then a minute's worth:
	lim.ReserveN(time.Now(), 64<<10) // the first byte waits a minute
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Limiter = 128<<10, lim
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventProgress { // half a second in: all four wait
			cancel()
		}
	}
	_, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(ctx, path)
	var fe *upload.FailedError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &fe) || !fe.Kept || fe.PartsDone != 0 {
		t.Fatalf("Put = %v (%+v), want the cancellation with the journal kept", err, fe)
	}
	if j := journalOf(t, dir, fe); filepath.Base(j.Fingerprint.Path) != "clip.mp4" {
		t.Fatalf("journal of %s", j.Fingerprint.Path)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.list {
		if e.BytesSent != 0 {
			t.Fatalf("%s event counts %d bytes sent; none went", e.Type, e.BytesSent)
		}
	}
}

// When the cap is what makes the upload too slow for its session, the
// warning says to raise the cap, not to add connections.
func TestPutWarnsToRaiseTheLimitRate(t *testing.T) {
	s := servertest.Start(t, server.Config{Strict: true, UploadTTL: 20 * time.Second}, noExtensions(t))
	dir := t.TempDir()
	path, _ := writeFile(t, dir, 5<<20, 46) // about 40 s at 128 KiB/s
	ev := &events{}
	o := opts(t, ev, dir)
	o.PartSize, o.Limiter = 1<<20, upload.NewLimiter(128<<10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev.on = func(e upload.Event) {
		if e.Type == upload.EventWarning {
			cancel()
		}
	}
	_, err := (&upload.Uploader{Client: client(t, s), Opts: o}).Put(ctx, path)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v; messages:\n%s", err, ev.messages())
	}
	if m := ev.messages(); !strings.Contains(m, "expires in") || !strings.Contains(m, "consider a higher --limit-rate") {
		t.Fatalf("messages:\n%s", m)
	}
}
