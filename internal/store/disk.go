package store

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// copyBufs holds the buffers that stream request bodies to disk: large enough
// for few syscalls, small enough that memory stays flat per request.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

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
// fsyncs the file and its directory. It returns the byte count and hex MD5.
// On any failure the file is removed.
func writeDurable(path string, r io.Reader, max int64) (n int64, sum string, err error) {
	if err := mkdirDurable(filepath.Dir(path)); err != nil {
		return 0, "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	h := md5.New()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	src := &readErrs{r: r}
	n, err = io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(src, max+1), *bp)
	if src.err != nil {
		return n, "", &BodyError{Err: src.err}
	}
	if err != nil {
		return n, "", err
	}
	if n > max {
		return n, "", errTooLarge
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
	return n, hex.EncodeToString(h.Sum(nil)), nil
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
