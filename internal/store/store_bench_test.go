package store

import (
	"io"
	"testing"
)

// zeros yields n zero bytes without holding them.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// BenchmarkAddPart measures storing one 64 MiB part durably: the copy to
// disk, its MD5, the fsyncs and the record's commit (no HTTP).
func BenchmarkAddPart(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const size = 64 << 20
	b.SetBytes(size)
	var u Upload
	for i := range b.N {
		if i%100 == 0 {
			b.StopTimer()
			if u, err = s.CreateUpload(NewUpload{Org: "o", Filename: "f", Purpose: "video", MimeType: "video/mp4", Bytes: 8 << 30, TTL: 1 << 62}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := s.AddPart("o", u.ID, &zeros{size}, size, 8<<30); err != nil {
			b.Fatal(err)
		}
	}
}
