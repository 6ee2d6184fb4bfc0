// Package seen is a small local index of the content already uploaded, so
// that `uploads put --skip-existing` can tell that a file's bytes are on the
// server already without asking it.
//
// A record is keyed by the base URL, the purpose, the size and the MD5 (hex)
// of the content, and holds the file id the server gave, the filename it was
// uploaded under, when, and the local path it was last seen at. The base
// URL is stored without user information, query or fragment, with its scheme
// and host in lower case and no trailing slash, so that no credential is
// written to disk and "https://API.example.com/v1/" and
// "https://api.example.com/v1" are one server. MD5s are stored in lower case.
//
// # The index file
//
// The index is one JSON file, FileName, in the directory given to Open (the
// journal directory), with mode 0600: {"version": 1, "records": [...]},
// oldest record first. It is not named *.json so that the journal's listing
// does not take it for a journal. It is replaced atomically
// (internal/atomicfile), so a reader always sees a whole file; each change
// (Record, Forget) reads, changes and writes it under an exclusive lock on
// FileName+".lock" (github.com/gofrs/flock), so several processes can record
// at once without losing each other's records. Lookup takes no lock: it reads
// the file again when its identity, size or modification time has changed,
// and otherwise answers from memory.
//
// The index keeps the newest MaxRecords records by upload time and drops
// the oldest beyond that (ties broken by key), so it stays near 2.5 MB.
//
// A file that cannot be read as an index (not JSON, another schema version,
// a record without a file id or with a bad MD5) is not an error: it is renamed
// aside to FileName+".damaged-<UTC time>", the index starts empty, and a
// *DamagedError is kept for Warnings to return. Losing the index only means
// uploading again what it would have skipped.
package seen

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/uploads-dev/uploads/internal/atomicfile"
)

// FileName is the index file's name in its directory.
const FileName = "seen.index"

// SchemaVersion is the version of the index file this code reads and writes.
const SchemaVersion = 1

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
	BaseURL string `json:"base_url"`
	Purpose string `json:"purpose"`
	Size    int64  `json:"size"`
	MD5     string `json:"md5"`
}

// entry is a record as the file holds it.
type entry struct {
	key
	Record
}

type fileData struct {
	Version int     `json:"version"`
	Records []entry `json:"records"`
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

	mu       sync.Mutex // guards what follows, and the use of lock
	records  map[key]Record
	loaded   fs.FileInfo // the file as last read; nil when there was none
	warnings []error
}

// Open opens the index in dir, creating dir if need be. A damaged index file
// is not an error (see Warnings); a directory that cannot be created, or a
// file that cannot be read, is.
func Open(dir string) (*Index, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the directory of the index of uploaded files: %w", err)
	}
	path := filepath.Join(dir, FileName)
	ix := &Index{
		path:    path,
		lock:    flock.New(path+".lock", flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600)),
		max:     MaxRecords,
		records: map[key]Record{},
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
// print: a *DamagedError for a file moved aside, or an error of a Lookup that
// could not read the file (it answered from what it had read before). None
// of them stopped the index.
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
	r, ok := ix.records[k]
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
	return ix.change(func(m map[key]Record) bool {
		m[k] = r
		return true
	})
}

// Forget drops the record of a content, for when the server says its file
// is gone. Forgetting what is not there is not an error.
func (ix *Index) Forget(baseURL, purpose string, size int64, md5sum string) error {
	k, err := makeKey(baseURL, purpose, size, md5sum)
	if err != nil {
		return err
	}
	return ix.change(func(m map[key]Record) bool {
		if _, ok := m[k]; !ok {
			return false
		}
		delete(m, k)
		return true
	})
}

// change reads the index, applies f and writes the index if f says it
// changed it, all under the lock.
func (ix *Index) change(f func(map[key]Record) bool) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	unlock, err := ix.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	// Read again whatever the file looks like: another process may have
	// changed it within the resolution of its modification time.
	ix.loaded = nil
	if err := ix.readLocked(); err != nil {
		return err
	}
	if !f(ix.records) {
		return nil
	}
	return ix.writeLocked()
}

// refresh reads the file again if it changed since it was read, without the
// lock; only a damaged file takes the lock, to move it aside.
func (ix *Index) refresh() error {
	st, err := os.Stat(ix.path)
	if errors.Is(err, fs.ErrNotExist) {
		ix.records, ix.loaded = map[key]Record{}, nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the index of uploaded files: %w", err)
	}
	if unchanged(ix.loaded, st) {
		return nil
	}
	m, err := read(ix.path)
	if err == nil {
		ix.records, ix.loaded = m, st
		return nil
	}
	var de *DamagedError
	if !errors.As(err, &de) {
		return err
	}
	unlock, err := ix.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	return ix.readLocked()
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

// readLocked reads the file, moving it aside if it is damaged. The lock is held.
func (ix *Index) readLocked() error {
	st, err := os.Stat(ix.path)
	if errors.Is(err, fs.ErrNotExist) {
		ix.records, ix.loaded = map[key]Record{}, nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the index of uploaded files: %w", err)
	}
	if unchanged(ix.loaded, st) {
		return nil
	}
	m, err := read(ix.path)
	var de *DamagedError
	if errors.As(err, &de) {
		aside := fmt.Sprintf("%s.damaged-%s", ix.path, time.Now().UTC().Format("20060102T150405.000000000Z"))
		if os.Rename(ix.path, aside) == nil {
			de.MovedTo = aside
		}
		ix.warnings = append(ix.warnings, de)
		ix.records, ix.loaded = map[key]Record{}, nil
		return nil
	}
	if err != nil {
		return err
	}
	ix.records, ix.loaded = m, st
	return nil
}

// writeLocked writes the records, the newest ix.max of them, oldest first.
// The lock is held.
func (ix *Index) writeLocked() error {
	entries := make([]entry, 0, len(ix.records))
	for k, r := range ix.records {
		entries = append(entries, entry{k, r})
	}
	sort.Slice(entries, func(i, j int) bool { return older(entries[i], entries[j]) })
	if len(entries) > ix.max {
		for _, e := range entries[:len(entries)-ix.max] {
			delete(ix.records, e.key)
		}
		entries = entries[len(entries)-ix.max:]
	}
	data, err := json.MarshalIndent(fileData{Version: SchemaVersion, Records: entries}, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(ix.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the index of uploaded files: %w", err)
	}
	ix.loaded, _ = os.Stat(ix.path)
	return nil
}

func older(a, b entry) bool {
	if !a.UploadedAt.Equal(b.UploadedAt) {
		return a.UploadedAt.Before(b.UploadedAt)
	}
	ka, kb := a.key, b.key
	if ka.BaseURL != kb.BaseURL {
		return ka.BaseURL < kb.BaseURL
	}
	if ka.Purpose != kb.Purpose {
		return ka.Purpose < kb.Purpose
	}
	if ka.Size != kb.Size {
		return ka.Size < kb.Size
	}
	return ka.MD5 < kb.MD5
}

// unchanged reports whether the file st is the one read as was.
func unchanged(was, st fs.FileInfo) bool {
	return was != nil && os.SameFile(was, st) && was.Size() == st.Size() && was.ModTime().Equal(st.ModTime())
}

// read reads and checks an index file: a *DamagedError if it is not one.
func read(path string) (map[key]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the index of uploaded files: %w", err)
	}
	m, err := decode(data)
	if err != nil {
		return nil, &DamagedError{Path: path, Err: err}
	}
	return m, nil
}

// decode parses an index file. Unknown fields are ignored: a later version
// may add some without changing SchemaVersion.
func decode(data []byte) (map[key]Record, error) {
	var f fileData
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not an index: %w", err)
	}
	if f.Version != SchemaVersion {
		return nil, fmt.Errorf("schema version %d, this uploads reads %d", f.Version, SchemaVersion)
	}
	m := make(map[key]Record, len(f.Records))
	for i, e := range f.Records {
		k, err := makeKey(e.BaseURL, e.Purpose, e.Size, e.MD5)
		if err != nil || k != e.key || e.FileID == "" {
			return nil, fmt.Errorf("record %d is malformed", i+1)
		}
		m[k] = e.Record
	}
	return m, nil
}

// makeKey checks and normalises a key.
func makeKey(baseURL, purpose string, size int64, md5sum string) (key, error) {
	u, err := cleanURL(baseURL)
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

// cleanURL strips from a base URL what may hold a secret (user information,
// query, fragment) and what does not name another server (case of the scheme
// and host, a trailing slash). Its errors do not quote the URL, which may
// hold a secret.
func cleanURL(s string) (string, error) {
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
