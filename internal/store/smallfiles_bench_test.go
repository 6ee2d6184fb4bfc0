//go:build unix

package store

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkSmallFiles measures what a folder of small files costs the store:
// each file is one upload of one part (create, add the part, complete with
// the MD5), with the given number of files in flight, as `uploads put DIR`
// sends them. It reports the process's CPU time per file (cpu-us/file)
// beside the wall-clock time per file (ns/op).
func BenchmarkSmallFiles(b *testing.B) {
	for _, c := range []struct {
		size     int
		inFlight int
	}{{4 << 10, 1}, {4 << 10, 16}, {1 << 20, 16}} {
		b.Run(fmt.Sprintf("size=%dKiB/inflight=%d", c.size>>10, c.inFlight), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := randomBytes(c.size, 1)
			sum := md5.Sum(data)
			md5Hex := hex.EncodeToString(sum[:])
			b.SetBytes(int64(c.size))
			todo := make(chan struct{}, b.N)
			for range b.N {
				todo <- struct{}{}
			}
			close(todo)
			before := cpuTime(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range c.inFlight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range todo {
						u, err := s.CreateUpload(NewUpload{Org: "o", Filename: "f.jsonl", Purpose: "batch", MimeType: "application/jsonl", Bytes: int64(c.size), TTL: time.Hour})
						if err != nil {
							b.Error(err)
							return
						}
						p, err := s.AddPart("o", u.ID, bytes.NewReader(data), 64<<20, 8<<30)
						if err != nil {
							b.Error(err)
							return
						}
						if _, _, err := s.Complete("o", u.ID, []string{p.ID}, md5Hex); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-before).Microseconds())/float64(b.N), "cpu-us/file")
		})
	}
}
