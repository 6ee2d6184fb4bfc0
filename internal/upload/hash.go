package upload

import (
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
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
	// ends are the parts' end offsets, in order; chain[i] is the state
	// after part i, once hashed (nil for parts before a resumed state).
	ends  []int64
	chain [][]byte

	mu     sync.Mutex
	state  []byte // marshalled digest after offset bytes
	offset int64
}

// newFileHasher starts from a saved state, or from zero when state is empty
// or cannot be restored.
func newFileHasher(size int64, state []byte, offset int64, ends []int64) *fileHasher {
	fh := &fileHasher{h: md5.New(), size: size, ends: ends, chain: make([][]byte, len(ends))}
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
		next := sort.Search(len(fh.ends), func(i int) bool { return fh.ends[i] > off })
		if next < len(fh.ends) {
			end = min(end, fh.ends[next]) // stop at the part's end, for the chain
		}
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
		if next < len(fh.ends) && off == fh.ends[next] {
			fh.chain[next] = state
		}
		fh.mu.Unlock()
	}
	return hex.EncodeToString(fh.h.Sum(nil)), nil
}

// md5Chain returns the state after each part, or nil if one is missing (a
// resume started from a saved state). Call it after run has returned.
func (fh *fileHasher) md5Chain() [][]byte {
	fh.mu.Lock()
	defer fh.mu.Unlock()
	for _, st := range fh.chain {
		if st == nil {
			return nil
		}
	}
	return fh.chain
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
