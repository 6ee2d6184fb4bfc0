package upload

import (
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
)

// hashChunk is how much the whole-file hasher reads at a time; it publishes
// its state for the journal after each chunk.
const hashChunk = 4 << 20

// fileHasher computes the whole file's MD5 in one sequential pass, running
// while parts upload in parallel. It can start from a saved state (a
// resume) and publishes its state so the journal can save it.
type fileHasher struct {
	h    hash.Hash
	size int64

	mu     sync.Mutex
	state  []byte // marshalled digest after offset bytes
	offset int64
}

// newFileHasher starts from a saved state, or from zero when state is empty
// or cannot be restored.
func newFileHasher(size int64, state []byte, offset int64) *fileHasher {
	fh := &fileHasher{h: md5.New(), size: size}
	if len(state) > 0 && offset > 0 {
		if err := fh.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err == nil {
			fh.state, fh.offset = state, offset
		} else {
			fh.h.Reset()
		}
	}
	return fh
}

// run hashes f from where the state left off to the end. It stops early
// with ctx's error when done is closed.
func (fh *fileHasher) run(f *os.File, done <-chan struct{}) (string, error) {
	buf := make([]byte, 1<<20)
	off := fh.offset
	for off < fh.size {
		select {
		case <-done:
			return "", errStopped
		default:
		}
		end := min(off+hashChunk, fh.size)
		n, err := io.CopyBuffer(fh.h, io.NewSectionReader(f, off, end-off), buf)
		off += n
		if err != nil {
			return "", fmt.Errorf("read %s for its MD5: %w", f.Name(), err)
		}
		if off != end {
			return "", fmt.Errorf("%s got shorter while it was being read (%d bytes, expected %d): it changed during the upload", f.Name(), off, fh.size)
		}
		state, err := fh.h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return "", err
		}
		fh.mu.Lock()
		fh.state, fh.offset = state, off
		fh.mu.Unlock()
	}
	return hex.EncodeToString(fh.h.Sum(nil)), nil
}

// snapshot returns the latest published state and its offset.
func (fh *fileHasher) snapshot() ([]byte, int64) {
	fh.mu.Lock()
	defer fh.mu.Unlock()
	return fh.state, fh.offset
}

// partMD5 reads one range of f and returns its MD5 (for --verify).
func partMD5(f *os.File, off, n int64) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
