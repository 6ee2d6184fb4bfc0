package journal

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkPerFile does, for n files in one journal directory, what put
// does with the journal for each file of 1 part: lock, look for journals
// of the same file, load its own, save it twice (session created, part
// acknowledged), remove it, unlock. The cost per file should not grow with
// n. Run with -benchtime=1x: each iteration is a whole run of n files.
func BenchmarkPerFile(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			for b.Loop() {
				s := &Store{Dir: b.TempDir()}
				began := time.Now()
				for i := range n {
					j := sample()
					j.Fingerprint.Path = fmt.Sprintf("/data/%06d.jsonl", i)
					key := j.Key()
					l, err := s.Lock(key)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.ListFile(j.Fingerprint); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Load(key); err != ErrNotFound {
						b.Fatal(err)
					}
					for range 2 {
						if err := s.Save(j); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.Remove(key); err != nil {
						b.Fatal(err)
					}
					if err := l.Unlock(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(time.Since(began).Microseconds())/float64(n), "µs/file")
				des, _ := os.ReadDir(s.Dir)
				b.ReportMetric(float64(len(des)), "entries-left")
			}
		})
	}
}
