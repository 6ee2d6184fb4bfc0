package seen

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// FileName is the index file's name in its directory.
const FileName = "seen.index"

// SchemaVersion is the version of the index file this code reads and writes.
const SchemaVersion = 2

// MaxRecords is how many records the index keeps: the newest by UploadedAt.
const MaxRecords = 10000

// lockTimeout is how long a change waits for another process's change.
const lockTimeout = 30 * time.Second

// Record is what the index knows of one uploaded content.
type Record struct {
	FileID   string `json:"file_id"`
	Filename string `json:"filename"`
	// UploadedAt is when the file was uploaded; Index.Record sets it to now
	// when it is zero.
	UploadedAt time.Time `json:"uploaded_at"`
	// Path is the local path the content was last seen at.
	Path string `json:"path,omitempty"`
}

// key is what a record is found by, normalised.
type key struct {
	BaseURL string
	Purpose string
	Size    int64
	MD5     string
}

// DamagedError says that the index file could not be read and was moved
// aside; the index went on empty.
type DamagedError struct {
	Path    string
	MovedTo string // "" if it could not be moved (then it is overwritten by the next change)
	Err     error
}

func (e *DamagedError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("the index of uploaded files %s is damaged (%v) and could not be moved aside; starting a new one", e.Path, e.Err)
	}
	return fmt.Sprintf("the index of uploaded files %s is damaged (%v); moved it to %s and started a new one", e.Path, e.Err, e.MovedTo)
}

// Unwrap returns the cause.
func (e *DamagedError) Unwrap() error { return e.Err }

// Index is the index in one directory. Its methods are safe for concurrent
// use.
type Index struct {
	path string
	lock *flock.Flock
	max  int

	mu       sync.Mutex  // guards what follows, and the use of lock
	v        view        // the file as last read
	loaded   fs.FileInfo // the file when v was last brought up to date; nil when there was none
	warnings []error
}

// Open opens the index in dir, creating dir if need be. A damaged index file
// is not an error (see Warnings); a directory that cannot be created, or a
// file that cannot be read, is.
func Open(dir string) (*Index, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err // names the directory
	}
	path := filepath.Join(dir, FileName)
	ix := &Index{
		path: path,
		lock: flock.New(path+".lock", flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600)),
		max:  MaxRecords,
		v:    emptyView(),
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.refresh(); err != nil {
		return nil, err
	}
	return ix, nil
}

// Path is the index file's path.
func (ix *Index) Path() string { return ix.path }

// Warnings returns the problems met since the last call, for the caller to
// print: a *DamagedError for a file moved aside, a partly written last line
// that was cut off, or an error of a Lookup that could not read the file (it
// answered from what it had read before). None of them stopped the index.
func (ix *Index) Warnings() []error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	w := ix.warnings
	ix.warnings = nil
	return w
}

// Lookup returns the record of the content of size bytes with the MD5
// md5sum, uploaded to baseURL for purpose, if there is one. A base URL that
// is not an absolute URL, or a malformed MD5, finds nothing.
func (ix *Index) Lookup(baseURL, purpose string, size int64, md5sum string) (Record, bool) {
	k, err := makeKey(baseURL, purpose, size, md5sum)
	if err != nil {
		return Record{}, false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.refresh(); err != nil {
		// Answer from what was read before; say so once, not at every file.
		if n := len(ix.warnings); n == 0 || ix.warnings[n-1].Error() != err.Error() {
			ix.warnings = append(ix.warnings, err)
		}
	}
	r, ok := ix.v.records[k]
	return r, ok
}

// Record notes that the content of size bytes with the MD5 md5sum is on
// baseURL for purpose as r, replacing any record of that content. r.FileID
// must be set; a zero r.UploadedAt is now.
func (ix *Index) Record(baseURL, purpose string, size int64, md5sum string, r Record) error {
	k, err := makeKey(baseURL, purpose, size, md5sum)
	if err != nil {
		return err
	}
	if r.FileID == "" {
		return errors.New("record an uploaded file: no file id")
	}
	if r.UploadedAt.IsZero() {
		r.UploadedAt = time.Now()
	}
	r.UploadedAt = r.UploadedAt.UTC().Round(0)
	return ix.change(k, &r)
}

// Forget drops the record of a content, for when the server says its file
// is gone. Forgetting what is not there is not an error.
func (ix *Index) Forget(baseURL, purpose string, size int64, md5sum string) error {
	k, err := makeKey(baseURL, purpose, size, md5sum)
	if err != nil {
		return err
	}
	return ix.change(k, nil)
}

// lockFile takes the lock file, waiting at most lockTimeout for another
// process to release it. ix.mu is held.
func (ix *Index) lockFile() (unlock func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
	defer cancel()
	ok, err := ix.lock.TryLockContext(ctx, 10*time.Millisecond)
	if !ok && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("the index of uploaded files %s has been locked by another process for %v; is another uploads stuck?", ix.path, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("lock the index of uploaded files %s: %w", ix.path, err)
	}
	return func() { _ = ix.lock.Unlock() }, nil
}

// makeKey checks and normalises a key.
func makeKey(baseURL, purpose string, size int64, md5sum string) (key, error) {
	u, err := CleanURL(baseURL)
	if err != nil {
		return key{}, err
	}
	if size < 0 {
		return key{}, fmt.Errorf("negative size %d", size)
	}
	md5sum = strings.ToLower(md5sum)
	if b, err := hex.DecodeString(md5sum); err != nil || len(b) != 16 {
		return key{}, fmt.Errorf("MD5 %q is not 32 hexadecimal digits", md5sum)
	}
	return key{BaseURL: u, Purpose: purpose, Size: size, MD5: md5sum}, nil
}

// CleanURL strips from a base URL what may hold a secret (user information,
// query, fragment) and what does not name another server (case of the scheme
// and host, a trailing slash). Its errors do not quote the URL, which may
// hold a secret.
func CleanURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", errors.New("the base URL is not an absolute URL")
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u.String(), nil
}
