package upload

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"errors"
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
// while parts upload in parallel. It is the only place the client hashes the
// file's bytes: besides the MD5 for complete, it records the MD5 state at
// each part's end (the chain), from which any part can later be checked on
// its own (see checkPart). It can start from a saved state (a resume) and
// publishes its state so the journal can save it.
type fileHasher struct {
	known string // the MD5 in hex, known before: nothing to read (knownHash)
	h     hash.Hash
	size  int64
	// ends are the parts' end offsets, in order; chain[i] is the state
	// after part i, once hashed (nil before that, and for parts a resume
	// started past without a saved state).
	ends []int64

	mu     sync.Mutex
	chain  [][]byte
	state  []byte // marshalled digest after offset bytes
	offset int64
}

// newFileHasher starts from a saved state, or from zero when state is empty
// or cannot be restored. chain holds the states already known (it may be
// nil or shorter than ends).
func newFileHasher(size int64, state []byte, offset int64, ends []int64, chain [][]byte) *fileHasher {
	fh := &fileHasher{h: md5.New(), size: size, ends: ends, chain: make([][]byte, len(ends))}
	copy(fh.chain, chain)
	if len(state) > 0 && offset > 0 {
		if err := fh.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err == nil {
			fh.state, fh.offset = state, offset
		} else {
			fh.h.Reset()
		}
	}
	return fh
}

// knownHash is the hasher of a file of one part whose MD5 is known.
func knownHash(md5Hex string, size int64, ends []int64) *fileHasher {
	return &fileHasher{known: md5Hex, size: size, ends: ends, chain: make([][]byte, len(ends))}
}

// errShrunk is a file that ended before its size: it changed.
var errShrunk = errors.New("the file got shorter while it was being read")

// run hashes f from where the state left off to the end, and returns the
// MD5 in hex. It stops early with ctx's error.
func (fh *fileHasher) run(ctx context.Context, f *os.File) (string, error) {
	if fh.known != "" {
		return fh.known, nil
	}
	buf, done := readBuffer(fh.size - fh.offset)
	defer done()
	off := fh.offset
	for off < fh.size {
		if err := ctx.Err(); err != nil {
			return "", err
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
			return "", errShrunk
		}
		state, err := marshalMD5(fh.h)
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

// snapshot returns the latest published state and its offset, and the
// chain as far as it is known.
func (fh *fileHasher) snapshot() (state []byte, offset int64, chain [][]byte) {
	fh.mu.Lock()
	defer fh.mu.Unlock()
	return fh.state, fh.offset, append([][]byte(nil), fh.chain...)
}

func marshalMD5(h hash.Hash) ([]byte, error) {
	return h.(encoding.BinaryMarshaler).MarshalBinary()
}

// checkPart reports whether the n bytes of f at off take the MD5 state from
// before (nil: the start of the file) to after: whether the part's bytes
// are those the whole-file pass saw. An error means it could not be read.
func checkPart(f *os.File, off, n int64, before, after []byte) (bool, error) {
	h := md5.New()
	if len(before) > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(before); err != nil {
			return false, err
		}
	}
	got, err := io.Copy(h, io.NewSectionReader(f, off, n))
	if err != nil {
		return false, err
	}
	if got != n {
		return false, errShrunk
	}
	state, err := marshalMD5(h)
	if err != nil {
		return false, err
	}
	return bytes.Equal(state, after), nil
}

// readBufSize is the chunk of the sequential reads (the MD5 pass, the
// checks): a larger one saves only read calls (a 256 MiB file takes 1,024
// instead of 256, next to 4 million MD5 blocks), and 16 files in flight
// hold 4 MiB of buffers instead of 16.
const readBufSize = 256 << 10

// readBufs are the buffers of the sequential reads, kept between files: a
// run of thousands of small files otherwise allocated, cleared and
// collected a buffer per file.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readBuffer returns a buffer for reading n bytes in one go or in chunks,
// and the function that gives it back.
func readBuffer(n int64) ([]byte, func()) {
	if n < readBufSize {
		return make([]byte, max(n, 512)), func() {}
	}
	b := readBufs.Get().(*[]byte)
	return *b, func() { readBufs.Put(b) }
}
