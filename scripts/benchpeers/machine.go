package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uploads-dev/uploads/internal/units"
)

// machine describes where the figures were measured.
type machine struct {
	line  string // CPUs, model, memory, kernel, OS, Go, disk, date, load
	load1 float64
}

// describeMachine reads the CPUs, CPU model, memory, kernel, OS, Go version,
// free disk in dir, date and load average.
func describeMachine(dir string) machine {
	model := "unknown CPU"
	for line := range strings.SplitSeq(readString("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			model = strings.TrimSpace(v)
			break
		}
	}
	mem := ""
	for line := range strings.SplitSeq(readString("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := strings.TrimSpace(readString("/proc/sys/kernel/osrelease"))
	osName := ""
	for line := range strings.SplitSeq(readString("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			osName = ", " + strings.Trim(v, `"`)
		}
	}
	disk := ""
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil {
		disk = fmt.Sprintf(", %s free in %s", units.FormatSize(int64(st.Bavail)*int64(st.Bsize)), dir)
	}
	load, load1 := loadAvg()
	return machine{
		line: fmt.Sprintf("%d CPUs (nproc), %s%s, Linux %s%s, %s%s; %s; load average at start %s",
			runtime.NumCPU(), model, mem, kernel, osName, runtime.Version(), disk,
			time.Now().UTC().Format("2006-01-02 15:04 MST"), load),
		load1: load1,
	}
}

func readString(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}

// loadAvg is the 1, 5 and 15-minute load averages, and the first as a
// number.
func loadAvg() (string, float64) {
	f := strings.Fields(readString("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown", 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return strings.Join(f[:3], " "), v
}

// loadSampler records the 1-minute load average every interval until
// stopped.
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
	stop    chan struct{}
	done    chan struct{}
}

func sampleLoad(interval time.Duration) *loadSampler {
	s := &loadSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			_, v := loadAvg()
			s.mu.Lock()
			s.samples = append(s.samples, v)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and describes it: the lowest, mean and highest
// 1-minute load average seen.
func (s *loadSampler) Stop() string {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return "unknown"
	}
	lo, hi, sum := s.samples[0], s.samples[0], 0.0
	for _, v := range s.samples {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	return fmt.Sprintf("%.2f–%.2f, mean %.2f (1-minute load average, %d samples)", lo, hi, sum/float64(len(s.samples)), len(s.samples))
}
