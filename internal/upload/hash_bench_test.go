package upload

import (
	"context"
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
// after each for the journal. It is all the hashing the client does.
func BenchmarkFileHasher(b *testing.B) {
	const size = 256 << 20
	f := benchFile(b, size)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := newFileHasher(size, nil, 0, nil, nil).run(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
}
