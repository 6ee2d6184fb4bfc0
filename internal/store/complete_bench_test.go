//go:build unix

package store

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkComplete measures completing a 1 GiB upload of sixteen 64 MiB
// parts with an md5: reading every part back in order (O_DIRECT, one chunk
// ahead) to check the whole file's MD5, then the records' commit. The parts
// are stored outside the timing. It reports the CPU the complete took per
// GiB (cpu-s/GiB) beside the wall-clock rate.
func BenchmarkComplete(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const part, n = 64 << 20, 16
	b.SetBytes(part * n)
	var cpu time.Duration
	b.StopTimer()
	for range b.N {
		u, err := s.CreateUpload(NewUpload{Org: "o", Filename: "f", Purpose: "video", MimeType: "video/mp4", Bytes: part * n, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		var ids []string
		for range n {
			p, err := s.AddPart("o", u.ID, &zeros{part}, part, 8<<30)
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		const md5Of1GiBOfZeros = "cd573cfaace07e7949bc0c46028904ff"
		before := cpuTime(b)
		b.StartTimer()
		_, f, err := s.Complete("o", u.ID, ids, md5Of1GiBOfZeros)
		b.StopTimer()
		cpu += cpuTime(b) - before
		if err != nil {
			b.Fatal(err)
		}
		if err := s.DeleteFile("o", f.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N)/float64(part*n>>30), "cpu-s/GiB")
}
