package bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/benchkit"
)

const (
	mib = 1 << 20
	key = "sk-bench"

	// The far setting: what users of the real service meet, 20 ms added to
	// every request and each connection capped at 20 MiB/s.
	farLatency  = "20ms"
	farThrottle = 20 * mib
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	buildOut  []byte
	gnuTime   = benchkit.GNUTime{}
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

// setUp skips under -short or without GNU time, and builds the binaries.
func setUp(b *testing.B) (uploads, sdkput string) {
	b.Helper()
	if testing.Short() {
		b.Skip("end-to-end upload benchmark: builds binaries and moves gigabytes")
	}
	if err := gnuTime.Check(b.Context()); err != nil {
		b.Skip(err)
	}
	return binaries(b)
}

// childEnv is the environment of a child process: the test's, less anything
// that would change what is measured (benchkit.CleanEnv), plus fresh XDG
// directories and the given variables.
func childEnv(b *testing.B, extra ...string) []string {
	b.Helper()
	return append(benchkit.CleanEnv(), append([]string{"XDG_STATE_HOME=" + b.TempDir(), "XDG_CONFIG_HOME=" + b.TempDir(),
		"XDG_DATA_HOME=" + b.TempDir()}, extra...)...)
}

// startServer runs `uploads serve --strict flags...` on a free loopback
// port with a fresh data directory, waits until /healthz answers, and stops
// it (SIGTERM) when the benchmark ends.
func startServer(b *testing.B, uploadsBin string, flags ...string) *benchkit.Server {
	b.Helper()
	s, err := benchkit.StartServer(b.Context(), uploadsBin, b.TempDir(), childEnv(b), append([]string{"--strict"}, flags...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	return s
}

// makeFile writes size pseudo-random bytes to clip.mp4 in a temporary
// directory (benchkit.MakeFile) and returns its path.
func makeFile(b *testing.B, size int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "clip.mp4")
	if _, err := benchkit.MakeFile(path, size); err != nil {
		b.Fatal(err)
	}
	return path
}

// stats accumulates the runs of one benchmark.
type stats struct {
	n       int
	elapsed time.Duration
	cpu     time.Duration // the child's user + system time
	srvCPU  time.Duration
	peakRSS int64 // bytes, the largest of the runs
	// From `uploads put --progress json`: the parts phase (first part
	// started to last part acknowledged), the tail to the completed file,
	// and the utilization of the connections (summed over phased runs).
	parts, tail time.Duration
	util        float64
	phased      int
}

func (st *stats) mean() time.Duration    { return st.elapsed / time.Duration(max(st.n, 1)) }
func (st *stats) meanCPU() time.Duration { return st.cpu / time.Duration(max(st.n, 1)) }

// report adds MiB/s, peak RSS, CPU and the phases per run to b's results.
func (st *stats) report(b *testing.B, size int64) {
	if st.n == 0 {
		return
	}
	b.ReportMetric(float64(size)/mib/st.mean().Seconds(), "MiB/s")
	b.ReportMetric(float64(st.peakRSS)/mib, "peak-RSS-MiB")
	b.ReportMetric(st.meanCPU().Seconds(), "client-cpu-s/op")
	b.ReportMetric(st.srvCPU.Seconds()/float64(st.n), "server-cpu-s/op")
	b.Logf("%d runs on %d MiB: mean %v (%.1f MiB/s), peak RSS %.1f MiB, client CPU %.2fs/op, server CPU %.2fs/op",
		st.n, size/mib, st.mean().Round(time.Millisecond), float64(size)/mib/st.mean().Seconds(), float64(st.peakRSS)/mib,
		st.meanCPU().Seconds(), st.srvCPU.Seconds()/float64(st.n))
	if st.phased > 0 {
		parts, tail := st.parts/time.Duration(st.phased), st.tail/time.Duration(st.phased)
		b.ReportMetric(parts.Seconds(), "parts-s/op")
		b.ReportMetric(tail.Seconds(), "tail-s/op")
		b.Logf("parts phase %v, last part to completed file %v", parts.Round(time.Millisecond), tail.Round(time.Millisecond))
		if st.util > 0 {
			b.ReportMetric(100*st.util/float64(st.phased), "utilization-%")
			b.Logf("utilization %.0f %%", 100*st.util/float64(st.phased))
		}
	}
}

// tool is what a sub-benchmark runs once per iteration on the file.
type tool struct {
	bin  string
	args []string
	// upload: it prints a file id, whose content is checked and deleted.
	upload bool
	// concurrency of `uploads put` (its events give the utilization);
	// 0 for other tools.
	concurrency int
}

// run runs t once per iteration on the file at path, of size bytes,
// checks every upload against it byte for byte, and reports the figures.
// perConn is each connection's cap (0: none, no utilization).
func run(b *testing.B, s *benchkit.Server, path string, size int64, perConn float64, t tool) *stats {
	b.Helper()
	st := &stats{}
	for b.Loop() {
		var stdout, stderr bytes.Buffer
		srvCPU := s.CPU()
		u, err := gnuTime.Run(b.Context(), b.TempDir(), childEnv(b, "OPENAI_BASE_URL="+s.BaseURL, "OPENAI_API_KEY="+key),
			&stdout, &stderr, t.bin, t.args...)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%v\n%s", err, stderr.String())
		}
		st.n++
		st.elapsed += u.Elapsed
		st.cpu += u.CPU
		st.srvCPU += s.CPU() - srvCPU
		st.peakRSS = max(st.peakRSS, u.PeakRSS)
		if t.concurrency > 0 {
			p, ok := benchkit.ParseProgress(stderr.Bytes())
			if !ok {
				b.Fatalf("no progress events from %s:\n%s", filepath.Base(t.bin), stderr.String())
			}
			st.parts += p.PartsPhase()
			st.tail += p.Tail()
			st.util += p.Utilization(size, t.concurrency, perConn)
			st.phased++
		}
		if t.upload {
			id := strings.TrimSpace(stdout.String())
			if !strings.HasPrefix(id, "file-") {
				b.Fatalf("%s printed %q, want a file id; stderr:\n%s", filepath.Base(t.bin), id, stderr.String())
			}
			if err := s.CheckContentFile(b.Context(), key, id, path); err != nil {
				b.Fatal(err)
			}
			if err := s.Delete(b.Context(), key, id); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	st.report(b, size)
	return st
}

// The tools. The SDK baseline gets 64 MiB parts, as its documentation's
// sequential recipe uses; `uploads put` runs with its defaults unless
// concurrency is given, printing its progress as JSON (an output format
// only).
func sdkTool(sdkput, path string) tool {
	return tool{bin: sdkput, upload: true,
		args: []string{"--file", path, "--purpose", "video", "--part-size", "64MiB", "--mime-type", "video/mp4"}}
}

func putTool(uploads, path string, concurrency int) tool {
	t := tool{bin: uploads, upload: true, concurrency: concurrency,
		args: []string{"put", path, "--purpose", "video", "--progress", "json"}}
	if concurrency == 0 {
		t.concurrency = benchkit.DefaultConcurrency()
	} else {
		t.args = append(t.args, "--concurrency", strconv.Itoa(concurrency))
	}
	return t
}

// ratio reports num / den as unit.
func ratio(b *testing.B, num, den time.Duration, unit string) {
	if num > 0 && den > 0 {
		b.ReportMetric(num.Seconds()/den.Seconds(), unit)
	}
}

// BenchmarkPutFar uploads a 512 MiB file to `uploads serve --strict
// --latency 20ms --throttle 20MiB` (the far setting: what users of the real
// service meet) with md5sum first (the CPU floor: one MD5 pass), then the
// official Go SDK used as its documentation suggests (scripts/sdkput:
// sequential 64 MiB parts read into memory), then `uploads put` with its
// defaults and with --concurrency 4 and 16. The put runs report x-vs-sdk
// (the SDK's mean time over theirs), cpu-x-md5sum (their CPU over md5sum's)
// and utilization-% (file bytes / (parts phase × min(concurrency, parts) ×
// 20 MiB/s)), all measured in the same run.
func BenchmarkPutFar(b *testing.B) {
	uploads, sdkput := setUp(b)
	s := startServer(b, uploads, "--latency", farLatency, "--throttle", strconv.Itoa(farThrottle))
	const size = 512 << 20
	path := makeFile(b, size)

	md5, sdk := baselines(b, s, path, size, sdkput)
	for _, c := range []struct {
		name        string
		concurrency int
	}{{"put-defaults", 0}, {"put-c4", 4}, {"put-c16", 16}} {
		b.Run(c.name, func(b *testing.B) {
			st := run(b, s, path, size, farThrottle, putTool(uploads, path, c.concurrency))
			if sdk != nil {
				ratio(b, sdk.mean(), st.mean(), "x-vs-sdk")
			}
			if md5 != nil {
				ratio(b, st.meanCPU(), md5.meanCPU(), "cpu-x-md5sum")
			}
		})
	}
}

// baselines measures md5sum of the file and the official SDK's upload of
// it: what put is compared with, in the same run.
func baselines(b *testing.B, s *benchkit.Server, path string, size int64, sdkput string) (md5, sdk *stats) {
	b.Run("md5sum", func(b *testing.B) {
		md5 = run(b, s, path, size, 0, tool{bin: "md5sum", args: []string{path}})
	})
	b.Run("sdk", func(b *testing.B) {
		sdk = run(b, s, path, size, 0, sdkTool(sdkput, path))
	})
	return md5, sdk
}

// BenchmarkPutLoopback uploads a 1 GiB file to `uploads serve --strict` on
// loopback, with no cap: client and server share the two cores, so the
// figure is mostly the server's; it is kept for the client's CPU per GiB
// and its peak RSS, with x-vs-sdk for information (not a goal).
func BenchmarkPutLoopback(b *testing.B) {
	uploads, sdkput := setUp(b)
	s := startServer(b, uploads)
	const size = 1 << 30
	path := makeFile(b, size)

	md5, sdk := baselines(b, s, path, size, sdkput)
	b.Run("put-defaults", func(b *testing.B) {
		st := run(b, s, path, size, 0, putTool(uploads, path, 0))
		if sdk != nil {
			ratio(b, sdk.mean(), st.mean(), "x-vs-sdk")
		}
		if md5 != nil {
			ratio(b, st.meanCPU(), md5.meanCPU(), "cpu-x-md5sum")
		}
	})
}
