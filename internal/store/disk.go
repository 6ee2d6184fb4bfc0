package store

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	md5simd "github.com/minio/md5-simd"
	bolt "go.etcd.io/bbolt"
)

// ioAlign is the alignment O_DIRECT asks of buffers, file offsets and
// lengths: the page size, a multiple of the logical block size of the disks
// in use.
const ioAlign = 4096

// ioChunk is how much of a body is read, hashed and written at a time: large
// enough that an O_DIRECT write keeps the disk busy, small enough that memory
// stays flat per request.
const ioChunk = 1 << 20

// ioBufs holds ioChunk-sized buffers aligned to ioAlign.
var ioBufs = sync.Pool{New: func() any { b := alignedSlice(ioChunk); return &b }}

// alignedSlice returns n bytes whose first byte is ioAlign-aligned.
func alignedSlice(n int) []byte {
	b := make([]byte, n+ioAlign)
	off := (ioAlign - int(uintptr(unsafe.Pointer(&b[0]))%ioAlign)) % ioAlign
	return b[off : off+n : off+n]
}

// BodyError is a failure to read the bytes a client sent (the request was cut
// short, malformed or over a limit), as opposed to a failure of our own disk.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return e.Err.Error() }

// Unwrap returns the read error.
func (e *BodyError) Unwrap() error { return e.Err }

// readErrs remembers the error its reader returned, other than io.EOF.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// errTooLarge is returned by writeDurable when the body is longer than allowed.
var errTooLarge = errors.New("body larger than allowed")

// writeDurable streams r into a new file at path, at most max bytes, and
// fsyncs the file and its directory (which must exist, durably: Open creates
// parts/ and files/). It returns the byte count and hex MD5. On any failure
// the file is removed.
//
// Where the file system allows it (Linux, O_DIRECT) the bytes go from the
// buffer to the disk without passing through the page cache: the fsync then
// has little left to do, and the server does not spend its CPU filling and
// writing back cache pages nobody will read soon (measured in
// docs/benchmarks.md: about 3 s of CPU per GiB on the reference machine).
func writeDurable(path string, r io.Reader, max int64) (n int64, sum string, err error) {
	f, direct, err := openDirect(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	w := &diskWriter{f: f, direct: direct}
	bp := ioBufs.Get().(*[]byte)
	defer ioBufs.Put(bp)
	buf := *bp
	src := &readErrs{r: r}
	body := io.LimitReader(src, max+1)
	// A body shorter than one chunk (a small file's) is hashed with
	// crypto/md5 in one call: going through md5-simd's server goroutine costs
	// more than the whole hash of a small body (BenchmarkSmallFiles). Longer
	// bodies keep md5-simd, which hashes the parts in flight together.
	var (
		long  md5simd.Hasher // for a body of one chunk or more
		small [md5.Size]byte
	)
	for first := true; ; first = false {
		k, rerr := io.ReadFull(body, buf)
		if src.err != nil {
			return n, "", &BodyError{Err: src.err}
		}
		n += int64(k)
		if n > max {
			return n, "", errTooLarge
		}
		end := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !end {
			return n, "", rerr
		}
		if first && end {
			small = md5.Sum(buf[:k])
		} else {
			if long == nil {
				long = partHashes().NewHash()
				defer long.Close()
			}
			long.Write(buf[:k])
		}
		if k > 0 {
			if err = w.write(buf[:k]); err != nil {
				return n, "", err
			}
		}
		if end {
			break
		}
	}
	if err = f.Sync(); err != nil {
		return n, "", fmt.Errorf("fsync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return n, "", err
	}
	if err = syncDir(filepath.Dir(path)); err != nil {
		return n, "", err
	}
	if long != nil {
		return n, hex.EncodeToString(long.Sum(nil)), nil
	}
	return n, hex.EncodeToString(small[:]), nil
}

// partHashes computes the MD5s of the parts being received, all together:
// github.com/minio/md5-simd hashes up to 16 streams at once with AVX-512 (8
// with AVX2) in one goroutine, twice the bytes per CPU second of crypto/md5
// with 8 parts in flight (docs/benchmarks.md). Without those instructions it
// is crypto/md5. The whole file's MD5 at complete (md5Of) is one stream,
// where crypto/md5 is the faster.
var partHashes = sync.OnceValue(md5simd.NewServer)

// diskWriter writes a file sequentially in chunks, with O_DIRECT while the
// chunks are whole blocks and buffered for the rest: the end of the file, or
// everything after the file system refused a direct write.
type diskWriter struct {
	f      *os.File
	direct bool
}

func (w *diskWriter) write(p []byte) error {
	if w.direct {
		if whole := len(p) &^ (ioAlign - 1); whole > 0 {
			n, err := w.f.Write(p[:whole])
			p = p[n:]
			if err != nil && !isDirectRefusal(err) {
				return err
			}
		}
		if len(p) == 0 {
			return nil
		}
		if err := clearDirect(w.f); err != nil {
			return err
		}
		w.direct = false
	}
	_, err := w.f.Write(p)
	return err
}

// hashFile adds the bytes of the file at path to h. It reads them with
// O_DIRECT where possible, so that they do not fill the page cache, one chunk
// ahead of the hashing, so that the disk and the hash work at the same time.
func hashFile(h hash.Hash, path string) error {
	f, direct, err := openDirect(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	type chunk struct {
		buf *[]byte
		n   int
		err error
	}
	full := make(chan chunk, 1)
	free := make(chan *[]byte, 2)
	free <- ioBufs.Get().(*[]byte)
	free <- ioBufs.Get().(*[]byte)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			var bp *[]byte
			select {
			case bp = <-free:
			case <-stop:
				return
			}
			n, err := f.Read(*bp)
			if direct && err != nil && isDirectRefusal(err) {
				if err = clearDirect(f); err == nil {
					direct = false
					n, err = f.Read(*bp)
				}
			}
			select {
			case full <- chunk{bp, n, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		c := <-full
		h.Write((*c.buf)[:c.n])
		free <- c.buf
		if c.err != nil {
			// The reader has stopped: both buffers are back in free.
			ioBufs.Put(<-free)
			ioBufs.Put(<-free)
			if c.err == io.EOF {
				return nil
			}
			return c.err
		}
	}
}

// mkdirDurable creates dir if it is missing and fsyncs its parent, so that
// the new directory's entry (and so the parts inside it) survives a power loss.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// removeBytes deletes the given files (relative paths) and any directory the
// deletion leaves empty. Failures are ignored: a file left behind is an orphan
// the next Open sweeps away.
func (s *Store) removeBytes(paths []string) {
	dirs := map[string]bool{}
	for _, p := range paths {
		_ = os.Remove(s.abs(p))
		dirs[filepath.Dir(s.abs(p))] = true
	}
	for d := range dirs {
		if filepath.Base(d) != "parts" && filepath.Base(d) != "files" {
			_ = os.Remove(d) // fails, as wanted, while the directory has files
		}
	}
}

// sweepOrphans removes files under parts/ and files/ that no record refers to.
func (s *Store) sweepOrphans() error {
	live := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketParts).ForEach(func(_, v []byte) error {
			var p Part
			if err := decode(v, &p); err != nil {
				return err
			}
			live[filepath.Clean(p.Path)] = true
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketFiles).ForEach(func(_, v []byte) error {
			var f File
			if err := decode(v, &f); err != nil {
				return err
			}
			for _, e := range f.Extents {
				live[filepath.Clean(e.Path)] = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	for _, top := range []string{"parts", "files"} {
		root := s.abs(top)
		var emptyDirs []string
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root {
					emptyDirs = append(emptyDirs, path)
				}
				return nil
			}
			rel, err := filepath.Rel(s.dir, path)
			if err != nil {
				return err
			}
			if !live[rel] {
				if err := os.Remove(path); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sweep %s: %w", root, err)
		}
		for i := len(emptyDirs) - 1; i >= 0; i-- {
			_ = os.Remove(emptyDirs[i])
		}
	}
	return nil
}
