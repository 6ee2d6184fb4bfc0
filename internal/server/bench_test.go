package server_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// BenchmarkPartIngest measures the server taking parts over loopback HTTP:
// multipart parsing, streaming to disk, MD5 and fsync, and the record commit.
// The client side streams a pattern, so the figure is the server's.
func BenchmarkPartIngest(b *testing.B) {
	for _, c := range []struct {
		size     int64
		parallel int
	}{{8 << 20, 1}, {64 << 20, 1}, {64 << 20, 4}} {
		b.Run(fmt.Sprintf("part=%dMiB/parallel=%d", c.size>>20, c.parallel), func(b *testing.B) {
			s := servertest.Start(b, server.Config{})
			id := ""
			sent := 0
			b.SetBytes(c.size)
			b.ResetTimer()
			for i := 0; i < b.N; i += c.parallel {
				if id == "" || sent > 100 {
					b.StopTimer()
					id = createUpload(b, s, key, 8<<30)
					sent = 0
					b.StartTimer()
				}
				var wg sync.WaitGroup
				for range min(c.parallel, b.N-i) {
					wg.Add(1)
					sent++
					go func() {
						defer wg.Done()
						if res, _ := streamPart(b, s, id, c.size); res.Status != 200 {
							b.Errorf("part answered %d: %s", res.Status, res.Body)
						}
					}()
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkContent measures reading a 256 MiB file made of 4 parts back
// through GET /files/{id}/content.
func BenchmarkContent(b *testing.B) {
	s := servertest.Start(b, server.Config{})
	const part, n = 64 << 20, 4
	id := createUpload(b, s, key, part*n)
	var ids []string
	for range n {
		res, _ := streamPart(b, s, id, part)
		ids = append(ids, wantOK(b, res)["id"].(string))
	}
	res := s.Do(b, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": ids}, "")
	if res.Status != 200 {
		b.Fatalf("complete: %s", res.Body)
	}
	fid := res.JSON(b)["file"].(map[string]any)["id"].(string)
	b.SetBytes(part * n)
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest("GET", s.BaseURL+"/files/"+fid+"/content", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		r, err := s.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		got, _ := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if got != part*n {
			b.Fatalf("read %d bytes", got)
		}
	}
}
