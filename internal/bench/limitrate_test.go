package bench

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/upload"
)

// BenchmarkLimitRate uploads 256 MiB over 8 connections to `uploads serve
// --strict` on loopback under one upload.NewLimiter cap, as `put
// --limit-rate` does, and checks that the cap holds: the parts phase (first
// part started to last part acknowledged) must move the file at 0.95 to
// 1.05 times the cap, or the benchmark fails. The client is the engine in
// this process (so its CPU is this process's), the server a process of its
// own; the server checks the MD5 at complete. It reports ratio (achieved /
// cap), the achieved MiB/s, the whole put's MiB/s (with create and
// complete, in which the server reads the file back for its MD5), and the
// client's and the server's CPU per upload; "unlimited" is the same upload
// without a cap, for the CPU. Figures: docs/benchmarks-history.md, "--limit-rate".
func BenchmarkLimitRate(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end upload benchmark: builds binaries and moves 256 MiB at a capped rate")
	}
	const size, conns = 256 << 20, 8
	uploads, _ := binaries(b)
	s := startServer(b, uploads)
	path := makeFile(b, size)
	c, err := api.New(api.Config{BaseURL: s.BaseURL, APIKey: key, StallTimeout: api.DefaultStallTimeout})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		limit int64
	}{{"unlimited", 0}, {"32MiB/s", 32 * mib}, {"64MiB/s", 64 * mib}} {
		b.Run(tc.name, func(b *testing.B) {
			var n int
			var phase, whole, cpu, srvCPU time.Duration
			for b.Loop() {
				var mu sync.Mutex
				var first, last time.Time
				report := func(e upload.Event) {
					mu.Lock()
					defer mu.Unlock()
					switch e.Type {
					case upload.EventPartStarted:
						if first.IsZero() {
							first = time.Now()
						}
					case upload.EventPartDone:
						last = time.Now()
					}
				}
				u := &upload.Uploader{Client: c, Opts: upload.Options{Purpose: "video", Concurrency: conns,
					Retry:  retry.Policy{Retries: 3, Base: 100 * time.Millisecond, Max: time.Second},
					Report: report, Limiter: upload.NewLimiter(tc.limit)}}
				cpu0, srv0, start := processCPU(b), s.CPU(), time.Now()
				res, err := u.Put(b.Context(), path)
				took := time.Since(start)
				b.StopTimer()
				cpu += processCPU(b) - cpu0
				srvCPU += s.CPU() - srv0
				if err != nil {
					b.Fatal(err)
				}
				if res.Retries != 0 || res.PartsSent != conns {
					b.Fatalf("result %+v: want %d parts sent once each, for the rate to be the file's", res, conns)
				}
				mu.Lock()
				p := last.Sub(first)
				mu.Unlock()
				if tc.limit > 0 {
					if r := float64(size) / p.Seconds() / float64(tc.limit); r < 0.95 || r > 1.05 {
						b.Fatalf("%.1f MiB/s under a cap of %d MiB/s: ratio %.3f, outside [0.95, 1.05]",
							float64(size)/mib/p.Seconds(), tc.limit/mib, r)
					}
				}
				n++
				phase += p
				whole += took
				if err := s.Delete(context.WithoutCancel(b.Context()), key, res.FileID); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			achieved := float64(size) * float64(n) / phase.Seconds()
			if tc.limit > 0 {
				b.ReportMetric(achieved/float64(tc.limit), "ratio")
			}
			b.ReportMetric(achieved/mib, "MiB/s")
			b.ReportMetric(float64(size)*float64(n)/mib/whole.Seconds(), "put-MiB/s")
			b.ReportMetric(cpu.Seconds()/float64(n), "client-cpu-s/op")
			b.ReportMetric(srvCPU.Seconds()/float64(n), "server-cpu-s/op")
		})
	}
}

// processCPU is this process's user and system time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
