package bench

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	mib = 1 << 20
	key = "sk-bench"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds cmd/uploads and scripts/sdkput once per process and
// returns their paths.
func binaries(b *testing.B) (uploads, sdkput string) {
	b.Helper()
	buildOnce.Do(func() {
		var goBin string
		if goBin, buildErr = exec.LookPath("go"); buildErr != nil {
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "uploads-bench-bin-"); buildErr != nil {
			return
		}
		buildOut, buildErr = exec.Command(goBin, "build", "-o", binDir+string(filepath.Separator),
			"github.com/uploads-dev/uploads/cmd/uploads",
			"github.com/uploads-dev/uploads/scripts/sdkput").CombinedOutput()
	})
	if buildErr != nil {
		b.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(binDir, "uploads"), filepath.Join(binDir, "sdkput")
}

func skipShort(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end upload benchmark: builds binaries and moves gigabytes")
	}
}

// childEnv is the environment of a child process: the test's, less anything
// that would change what is measured (API settings, the tool's settings, GC
// tuning, a user's config or journals), plus the given variables.
func childEnv(b *testing.B, extra ...string) []string {
	b.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "OPENAI_"), strings.HasPrefix(k, "UPLOADS_"), strings.HasPrefix(k, "XDG_"),
			k == "GOGC", k == "GOMEMLIMIT", k == "GOMAXPROCS", k == "GODEBUG":
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"XDG_STATE_HOME=" + b.TempDir(), "XDG_CONFIG_HOME=" + b.TempDir(),
		"XDG_DATA_HOME=" + b.TempDir()}, extra...)...)
}

// serveProc is a running `uploads serve` process.
type serveProc struct {
	baseURL string // http://127.0.0.1:PORT/v1
	cmd     *exec.Cmd
}

// startServer runs `uploads serve` on a free loopback port with a fresh data
// directory, waits until /healthz answers, and stops it (SIGTERM) when the
// benchmark ends.
func startServer(b *testing.B, uploadsBin string, flags ...string) *serveProc {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command(uploadsBin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--quiet"}, flags...)...)
	cmd.Env = childEnv(b)
	stdout, stderr := &firstLine{line: make(chan string, 1)}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &serveProc{cmd: cmd}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case s.baseURL = <-stdout.line:
	case <-time.After(30 * time.Second):
		b.Fatalf("uploads serve printed no base URL in 30s; stderr:\n%s", stderr)
	}
	if !strings.HasPrefix(s.baseURL, "http://127.0.0.1:") || !strings.HasSuffix(s.baseURL, "/v1") {
		b.Fatalf("uploads serve printed %q, want http://127.0.0.1:PORT/v1; stderr:\n%s", s.baseURL, stderr)
	}
	health := strings.TrimSuffix(s.baseURL, "/v1") + "/healthz"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(health)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("GET %s: not ready after 30s (%v); stderr:\n%s", health, err, stderr)
		}
	}
	return s
}

// firstLine sends the first line written to it (without its newline) on
// line, and discards the rest.
type firstLine struct {
	buf  []byte
	sent bool
	line chan string
}

func (w *firstLine) Write(p []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.line <- strings.TrimSpace(string(w.buf[:i]))
			w.sent, w.buf = true, nil
		}
	}
	return len(p), nil
}

// syncBuffer is a bytes.Buffer that a child process may write while the
// benchmark reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cpu is the server process's CPU time so far (user + system), from
// /proc/PID/stat; 0 where there is no /proc.
func (s *serveProc) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which is in parentheses and may hold
	// spaces): state is field 3, utime 14, stime 15, in clock ticks.
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ, 100 on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// verify reads the file's content back from the server, fails the benchmark
// if its MD5 is not wantMD5, then deletes the file to free the disk.
func (s *serveProc) verify(b *testing.B, fileID, wantMD5 string, size int64) {
	b.Helper()
	req, _ := http.NewRequest("GET", s.baseURL+"/files/"+fileID+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("read %s back: %v", fileID, err)
	}
	h := md5.New()
	n, err := io.Copy(h, res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("read %s back: status %d, %v", fileID, res.StatusCode, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantMD5 || n != size {
		b.Fatalf("the server's content of %s (%d bytes, MD5 %s) differs from the source (%d bytes, MD5 %s)", fileID, n, got, size, wantMD5)
	}
	req, _ = http.NewRequest("DELETE", s.baseURL+"/files/"+fileID, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if res, err = http.DefaultClient.Do(req); err != nil {
		b.Fatalf("delete %s: %v", fileID, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("delete %s: status %d", fileID, res.StatusCode)
	}
}

// makeFile writes size pseudo-random bytes (incompressible, not zeros) to
// clip.mp4 in a temporary directory, fsynced so that writeback does not run
// during the measurements, and returns its path and MD5. The file stays in
// the page cache: every tool reads it hot.
func makeFile(b *testing.B, size int64) (string, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "clip.mp4")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{'u', 'p', 'l', 'o', 'a', 'd', 's'})
	h := md5.New()
	buf := make([]byte, 4*mib)
	for left := size; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		_, _ = rng.Read(chunk)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
		left -= int64(len(chunk))
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

// stats accumulates the runs of one benchmark.
type stats struct {
	n       int
	elapsed time.Duration
	cpu     time.Duration // the client's user + system time
	srvCPU  time.Duration
	peakRSS int64 // bytes, the largest of the runs
	// From `uploads put --progress json`: the time from the session's start
	// to the last part's acknowledgement (the parallel phase), and from
	// there to the completed file (waiting for the client's MD5 pass, then
	// the server's MD5 check of every part on complete).
	parts, tail time.Duration
	phased      int
}

func (st *stats) mean() time.Duration { return st.elapsed / time.Duration(max(st.n, 1)) }

// report adds MiB/s, peak RSS and CPU per upload to b's results.
func (st *stats) report(b *testing.B, size int64) {
	if st.n == 0 {
		return
	}
	b.ReportMetric(float64(size)/mib/st.mean().Seconds(), "MiB/s")
	b.ReportMetric(float64(st.peakRSS)/mib, "peak-RSS-MiB")
	b.ReportMetric(st.cpu.Seconds()/float64(st.n), "client-cpu-s/op")
	b.ReportMetric(st.srvCPU.Seconds()/float64(st.n), "server-cpu-s/op")
	b.Logf("%d uploads of %d MiB: mean %v (%.1f MiB/s), peak RSS %.1f MiB, client CPU %.2fs/op, server CPU %.2fs/op",
		st.n, size/mib, st.mean().Round(time.Millisecond), float64(size)/mib/st.mean().Seconds(), float64(st.peakRSS)/mib,
		st.cpu.Seconds()/float64(st.n), st.srvCPU.Seconds()/float64(st.n))
	if st.phased > 0 {
		parts, tail := st.parts/time.Duration(st.phased), st.tail/time.Duration(st.phased)
		b.ReportMetric(parts.Seconds(), "parts-s/op")
		b.ReportMetric(tail.Seconds(), "tail-s/op")
		b.Logf("parts phase %v (%.1f MiB/s), last part to completed file %v", parts.Round(time.Millisecond),
			float64(size)/mib/parts.Seconds(), tail.Round(time.Millisecond))
	}
}

// phases reads `uploads put --progress json` output and returns the time
// from the start event to the last part_done, and from there to completed.
func phases(stderr []byte) (parts, tail time.Duration, ok bool) {
	var start, last, done time.Time
	for _, line := range bytes.Split(stderr, []byte("\n")) {
		var e struct {
			Time  time.Time `json:"time"`
			Event string    `json:"event"`
		}
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		switch e.Event {
		case "start":
			start = e.Time
		case "part_done":
			last = e.Time
		case "completed":
			done = e.Time
		}
	}
	if start.IsZero() || last.IsZero() || done.IsZero() {
		return 0, 0, false
	}
	return last.Sub(start), done.Sub(last), true
}

// benchUploads runs bin with args (each run one upload of the file, printing
// its file id) once per iteration, checks every result against the source,
// and reports the figures.
func benchUploads(b *testing.B, s *serveProc, size int64, sum, bin string, args ...string) *stats {
	b.Helper()
	st := &stats{}
	for b.Loop() {
		cmd := exec.Command(bin, args...)
		cmd.Env = childEnv(b, "OPENAI_BASE_URL="+s.baseURL, "OPENAI_API_KEY="+key)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		srvCPU := s.cpu()
		start := time.Now()
		err := cmd.Run()
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
		}
		st.n++
		st.elapsed += elapsed
		st.srvCPU += s.cpu() - srvCPU
		st.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			st.peakRSS = max(st.peakRSS, ru.Maxrss*1024) // KiB on Linux
		}
		if parts, tail, ok := phases(stderr.Bytes()); ok {
			st.parts += parts
			st.tail += tail
			st.phased++
		}
		id := strings.TrimSpace(stdout.String())
		if !strings.HasPrefix(id, "file-") {
			b.Fatalf("%s printed %q, want a file id; stderr:\n%s", filepath.Base(bin), id, stderr.String())
		}
		s.verify(b, id, sum, size)
		b.StartTimer()
	}
	st.report(b, size)
	return st
}

// The commands measured. The SDK baseline gets 64 MiB parts, as its
// documentation's sequential recipe uses.
func sdkArgs(path string) []string {
	return []string{"--file", path, "--purpose", "video", "--part-size", "64MiB", "--mime-type", "video/mp4"}
}

func putArgs(path, partSize string, concurrency int) []string {
	return []string{"put", path, "--purpose", "video", "--part-size", partSize, "--concurrency", strconv.Itoa(concurrency),
		"--progress", "json"}
}

// ratio reports how many times faster st was than base, as unit.
func ratio(b *testing.B, base, st *stats, unit string) {
	if base != nil && base.n > 0 && st.n > 0 {
		b.ReportMetric(base.mean().Seconds()/st.mean().Seconds(), unit)
	}
}

// BenchmarkPutVsSDK uploads a 1 GiB file in 64 MiB parts to `uploads serve`
// on loopback, first with the official Go SDK used as its documentation
// suggests (scripts/sdkput: sequential parts read into memory), then with
// `uploads put --concurrency 8`. The second reports x-vs-sdk, the ratio of the
// SDK's mean time to its own, measured in the same run. Its peak RSS is the
// memory goal (below 48 MiB).
func BenchmarkPutVsSDK(b *testing.B) {
	skipShort(b)
	uploads, sdkput := binaries(b)
	s := startServer(b, uploads)
	const size = 1 << 30
	path, sum := makeFile(b, size)

	var sdk *stats
	b.Run("sdk", func(b *testing.B) {
		sdk = benchUploads(b, s, size, sum, sdkput, sdkArgs(path)...)
	})
	b.Run("uploads-c8", func(b *testing.B) {
		st := benchUploads(b, s, size, sum, uploads, putArgs(path, "64MiB", 8)...)
		ratio(b, sdk, st, "x-vs-sdk")
	})
}

// BenchmarkPutThrottled uploads a 256 MiB file to `uploads serve --throttle
// 40MiB` (each connection capped at 40 MiB/s, as one TCP stream to a far
// endpoint gets): with the SDK baseline, then `uploads put` in 16 MiB parts
// at --concurrency 1 and 8 (uploads-c1, uploads-c8). uploads-c8 reports
// x-vs-sequential (against uploads-c1) and x-vs-sdk, measured in the same run.
//
// 16 MiB parts make 16 parts, two full waves of 8, so concurrency 8 keeps 8
// connections busy to the end (64 MiB parts would make only 4, capping the
// gain at 4x); each part spends 0.4s on the wire, so per-part costs (the
// request, fsync, the journal) stay small beside it, and concurrency 1 runs
// the same parts, so the ratio is that of parallelism alone.
func BenchmarkPutThrottled(b *testing.B) {
	skipShort(b)
	uploads, sdkput := binaries(b)
	s := startServer(b, uploads, "--throttle", "40MiB")
	const size = 256 << 20
	path, sum := makeFile(b, size)

	var sdk, seq *stats
	b.Run("sdk", func(b *testing.B) {
		sdk = benchUploads(b, s, size, sum, sdkput, sdkArgs(path)...)
	})
	b.Run("uploads-c1", func(b *testing.B) {
		seq = benchUploads(b, s, size, sum, uploads, putArgs(path, "16MiB", 1)...)
	})
	b.Run("uploads-c8", func(b *testing.B) {
		st := benchUploads(b, s, size, sum, uploads, putArgs(path, "16MiB", 8)...)
		ratio(b, seq, st, "x-vs-sequential")
		ratio(b, sdk, st, "x-vs-sdk")
	})
}
