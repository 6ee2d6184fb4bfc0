package upload

import (
	"crypto/md5"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchFile writes size pseudo-random bytes to a temporary file and opens
// it; the file stays in the page cache, so the figures are the CPU's.
func benchFile(b *testing.B, size int64) *os.File {
	b.Helper()
	path := filepath.Join(b.TempDir(), "clip.mp4")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		_, _ = rng.Read(buf)
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// BenchmarkFileHasher is the whole-file MD5 pass that runs while the parts
// upload: 256 MiB read in 4 MiB sections, publishing the digest's state
// after each for the journal.
func BenchmarkFileHasher(b *testing.B) {
	const size = 256 << 20
	f := benchFile(b, size)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := newFileHasher(size, nil, 0).run(f, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPartRead is how sendPart reads one 64 MiB part while the
// transport sends it: a section of the file through a TeeReader into the
// part's own MD5, copied 32 KiB at a time (as net/http copies a body to
// its connection). With BenchmarkFileHasher it shows that every byte is
// hashed twice on the client: once for the file, once for its part.
func BenchmarkPartRead(b *testing.B) {
	const size = 64 << 20
	f := benchFile(b, size)
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	for b.Loop() {
		h := md5.New()
		r := io.TeeReader(io.NewSectionReader(f, 0, size), h)
		if n, err := io.CopyBuffer(writerOnly{io.Discard}, r, buf); err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		_ = h.Sum(nil)
	}
}

// writerOnly hides io.Discard's ReadFrom so that the copy uses the buffer.
type writerOnly struct{ io.Writer }
