package api

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPartBody reads a whole 64 MiB part body as the transport does:
// the framing around api.Section over a file (hot in the page cache), copied
// 32 KiB at a time, with a new frame per part as AddPart makes. It measures
// what streaming adds to the bytes: nothing is buffered, so the allocations
// (the frame's) stay constant whatever the part size.
func BenchmarkPartBody(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, randomBytes(size), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		src, err := Section(f, 0, size).Open()
		if err != nil {
			b.Fatal(err)
		}
		frame := newFrame()
		body, length := frame.body(src, size)
		n, err := io.CopyBuffer(writerOnly{io.Discard}, readerOnly{body}, buf)
		if err != nil || n != length {
			b.Fatalf("read %d of %d bytes: %v", n, length, err)
		}
	}
}

// writerOnly and readerOnly hide ReadFrom and WriteTo, so that the copy goes
// through the buffer.
type (
	writerOnly struct{ io.Writer }
	readerOnly struct{ io.Reader }
)

func randomBytes(n int) []byte {
	data := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{2}).Read(data)
	return data
}
