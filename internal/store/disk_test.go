package store

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeDurable and hashFile keep every byte whatever the size's alignment,
// with O_DIRECT (where the file system takes it) and without.
func TestWriteDurableAndHashFileSizes(t *testing.T) {
	sizes := []int{1, 511, 4095, 4096, 4097, ioChunk - 1, ioChunk, ioChunk + 1, 3*ioChunk + 12345}
	for _, direct := range []bool{true, false} {
		t.Run(map[bool]string{true: "direct", false: "buffered"}[direct], func(t *testing.T) {
			old := directIO
			directIO = direct
			t.Cleanup(func() { directIO = old })
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, n := range sizes {
				data := randomBytes(n, uint64(n))
				path := filepath.Join(dir, "sub", "p"+strings.Repeat("x", n%7))
				_ = os.Remove(path)
				got, sum, err := writeDurable(path, bytes.NewReader(data), int64(n))
				want := md5.Sum(data)
				if err != nil || got != int64(n) || sum != hex.EncodeToString(want[:]) {
					t.Fatalf("size %d: wrote %d, md5 %s, err %v", n, got, sum, err)
				}
				onDisk, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(onDisk, data) {
					t.Fatalf("size %d: the file differs from the body (%d bytes, %v)", n, len(onDisk), err)
				}
				h := md5.New()
				if err := hashFile(h, path); err != nil || !bytes.Equal(h.Sum(nil), want[:]) {
					t.Fatalf("size %d: hashFile = %x, %v; want %x", n, h.Sum(nil), err, want)
				}
			}
		})
	}
}

// A body one byte over the limit is refused and leaves no file behind.
func TestWriteDurableRefusesTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p")
	_, _, err := writeDurable(path, bytes.NewReader(make([]byte, ioChunk+1)), ioChunk)
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v, want errTooLarge", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the refused file is still there: %v", err)
	}
}

// A write the file system refuses with O_DIRECT (here: a buffer that is not
// aligned) goes on buffered instead of failing.
func TestDiskWriterFallsBackWhenDirectIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p")
	f, direct, err := openDirect(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !direct {
		t.Skip("this file system does not take O_DIRECT")
	}
	buf := alignedSlice(3 * ioAlign)
	data := randomBytes(2*ioAlign, 9)
	copy(buf[1:], data) // misaligned by one byte
	w := &diskWriter{f: f, direct: true}
	if err := w.write(buf[1 : 1+len(data)]); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("file differs (%d bytes, %v)", len(onDisk), err)
	}
}

// More parts in flight than md5-simd has lanes (16) each get their own MD5.
func TestWriteDurableManyAtOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "p"), 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 24
	errs := make(chan error, n)
	for i := range n {
		go func() {
			data := randomBytes(ioChunk+ioChunk/2+i*997, uint64(100+i))
			_, sum, err := writeDurable(filepath.Join(dir, "p", strconv.Itoa(i)), bytes.NewReader(data), 8*ioChunk)
			want := md5.Sum(data)
			if err == nil && sum != hex.EncodeToString(want[:]) {
				err = fmt.Errorf("part %d: MD5 %s, want %x", i, sum, want)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
