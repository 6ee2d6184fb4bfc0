// Package journal keeps the crash-safe resume record of an upload: which
// session a file is going to, how it is cut into parts, which parts the
// server acknowledged (with their ids), the whole-file MD5's state at each
// part's end, how far the whole-file MD5 has got, and whether complete was
// sent. A journal is JSON with a schema version, written atomically
// (temporary file, fsync, rename, fsync of the directory) with mode 0600, and
// named by a key derived from the file's absolute path, size and mtime, the
// purpose and the base URL. A lock file beside it lets one process at a time
// work on it.
package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/uploads-dev/uploads/internal/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// SchemaVersion is the version this code writes and reads. Version 1
// (before 2026-11-29) keyed journals by part size too and kept a per-part
// MD5; its files are not read (they are listed as unreadable).
const SchemaVersion = 2

// Fingerprint identifies one version of one file going to one purpose on
// one server. The part size is not part of it: a resume goes on with the
// journal's part size.
type Fingerprint struct {
	Path    string `json:"path"` // absolute
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Purpose string `json:"purpose"`
	BaseURL string `json:"base_url"`
}

// Key is the journal's name for this fingerprint: 32 hexadecimal digits,
// the first 12 naming the file, purpose and server (FileKey), the other 20
// the whole fingerprint, so that the journals of one file, whatever its
// version, are found without reading the others.
func (f Fingerprint) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s", f.Path, f.Size, f.ModTime, f.Purpose, strings.TrimSuffix(f.BaseURL, "/"))
	return f.FileKey() + hex.EncodeToString(h.Sum(nil))[:20]
}

// FileKey is the first part of Key: it names the path, purpose and server.
func (f Fingerprint) FileKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", f.Path, f.Purpose, strings.TrimSuffix(f.BaseURL, "/"))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// SameFile reports whether f and o name the same path, purpose and server
// (whatever the file's size and mtime).
func (f Fingerprint) SameFile(o Fingerprint) bool {
	return f.Path == o.Path && f.Purpose == o.Purpose && strings.TrimSuffix(f.BaseURL, "/") == strings.TrimSuffix(o.BaseURL, "/")
}

// Part is one planned part. ID is set the moment the server acknowledges
// it; MD5State once the whole-file MD5 has passed the part's last byte: the
// marshalled crypto/md5 state there. With the state at the previous part's
// end it checks the part's bytes without hashing anything else.
type Part struct {
	Offset   int64  `json:"offset"`
	Length   int64  `json:"length"`
	ID       string `json:"id,omitempty"`
	MD5State []byte `json:"md5_state,omitempty"`
}

// Journal is the resume record of one upload.
type Journal struct {
	Version     int         `json:"version"`
	Fingerprint Fingerprint `json:"fingerprint"`
	PartSize    int64       `json:"part_size"`
	UploadID    string      `json:"upload_id"`
	Filename    string      `json:"filename"`
	MimeType    string      `json:"mime_type"`
	// UploadCreatedAt is the session's created_at as the server gave it
	// (Unix seconds, the server's clock): the file a complete makes is
	// created after it.
	UploadCreatedAt int64 `json:"upload_created_at"`
	// ExpiresAt is the session's expiry, Unix seconds.
	ExpiresAt int64 `json:"expires_at"`
	// CompleteSent is set, durably, before the first complete is sent: from
	// then on the file may exist even if no answer came back.
	CompleteSent bool `json:"complete_sent,omitempty"`
	// MD5 is the whole file's MD5 (hex), once computed.
	MD5       string    `json:"md5,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Parts     []Part    `json:"parts"`
	// MD5State is the marshalled state of the whole-file MD5 after its first
	// MD5Offset bytes, so that a resume need not hash them again.
	MD5State  []byte `json:"md5_state,omitempty"`
	MD5Offset int64  `json:"md5_offset,omitempty"`
}

// Key is the journal's key.
func (j *Journal) Key() string { return j.Fingerprint.Key() }

// Acked counts the acknowledged parts and their bytes: every count of an
// upload's progress derives from the journal.
func (j *Journal) Acked() (parts int, bytes int64) {
	for _, p := range j.Parts {
		if p.ID != "" {
			parts++
			bytes += p.Length
		}
	}
	return parts, bytes
}

// CorruptError is a journal file that cannot be used.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("resume journal %s is unreadable (%v); remove it with 'uploads journal rm %s' or run with --restart",
		e.Path, e.Err, strings.TrimSuffix(filepath.Base(e.Path), ".json"))
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// ErrNotFound is returned by Load when there is no journal for a key.
var ErrNotFound = errors.New("no journal")

// Decode reads a journal and checks that it is whole and consistent.
func Decode(data []byte) (*Journal, error) {
	var j Journal
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("not a journal: %w", err)
	}
	if j.Version != SchemaVersion {
		return nil, fmt.Errorf("schema version %d, this uploads reads %d", j.Version, SchemaVersion)
	}
	if j.UploadID == "" || j.Fingerprint.Path == "" || j.Fingerprint.Size <= 0 || j.PartSize <= 0 {
		return nil, errors.New("missing upload id, path, size or part size")
	}
	var next int64
	for i, p := range j.Parts {
		if p.Offset != next || p.Length <= 0 || p.Length > j.PartSize {
			return nil, fmt.Errorf("part %d (offset %d, length %d) does not follow the previous part", i+1, p.Offset, p.Length)
		}
		next += p.Length
	}
	if next != j.Fingerprint.Size {
		return nil, fmt.Errorf("the parts cover %d bytes, the file has %d", next, j.Fingerprint.Size)
	}
	if j.MD5Offset < 0 || j.MD5Offset > j.Fingerprint.Size || (j.MD5Offset > 0 && len(j.MD5State) == 0) {
		return nil, fmt.Errorf("MD5 progress %d is out of range", j.MD5Offset)
	}
	return &j, nil
}

// Store is a directory of journals. Its zero value with Dir set is ready
// to use; use it through a pointer, and share one Store between the
// uploads of a run: ListFile lists the directory once per Store (see
// index).
type Store struct {
	Dir string
	idx index // nil until the first ListFile; guarded by indexMu
}

// DefaultDir is $XDG_STATE_HOME/uploads (or ~/.local/state/uploads).
func DefaultDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "uploads")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "uploads")
	}
	return ".uploads-journal"
}

func (s *Store) path(key string) string { return filepath.Join(s.Dir, key+".json") }

// Path is where the journal of key lives.
func (s *Store) Path(key string) string { return s.path(key) }

// Load reads the journal of key: ErrNotFound if there is none, a
// *CorruptError if it cannot be used.
func (s *Store) Load(key string) (*Journal, error) {
	data, err := os.ReadFile(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	j, err := Decode(data)
	if err != nil {
		return nil, &CorruptError{Path: s.path(key), Err: err}
	}
	if j.Key() != key {
		return nil, &CorruptError{Path: s.path(key), Err: errors.New("its content does not match its name")}
	}
	return j, nil
}

// Save writes j atomically: a reader sees the old journal or the new one,
// never a mix, and after Save returns the new one survives a crash.
func (s *Store) Save(j *Journal) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create journal directory: %w", err)
	}
	j.Version = SchemaVersion
	data, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path(j.Key()), data, 0o600); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	s.indexed(j.Key(), true)
	return nil
}

// Remove deletes the journal of key; a missing one is not an error.
func (s *Store) Remove(key string) error {
	err := os.Remove(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Entry is one journal file as List finds it: the journal, or why it is unusable.
type Entry struct {
	Key     string
	Path    string
	Journal *Journal // nil when Err is set
	Err     error
}

// List returns every journal in the store, oldest first. It reads the
// directory each time.
func (s *Store) List() ([]Entry, error) {
	names, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, name := range names {
		if key, ok := journalKey(filepath.Base(name)); ok {
			keys = append(keys, key)
		}
	}
	return s.entries(keys), nil
}

// ListFile returns the journals of fp's file, purpose and server, whatever
// the file's size and modification time, oldest first. Its cost does not
// grow with the directory: the first call lists the directory, the
// others look in the Store's index of it. Journals that other processes
// write after that first call are not seen (those they remove are not
// returned).
func (s *Store) ListFile(fp Fingerprint) ([]Entry, error) {
	keys, err := s.fileKeys(fp.FileKey())
	if err != nil {
		return nil, err
	}
	return s.entries(keys), nil
}

// entries reads the journals of keys, oldest first; a key whose file is
// gone is left out.
func (s *Store) entries(keys []string) []Entry {
	var out []Entry
	for _, key := range keys {
		j, err := s.Load(key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		out = append(out, Entry{Key: key, Path: s.path(key), Journal: j, Err: err})
	}
	sort.Slice(out, func(a, b int) bool {
		ta, tb := time.Time{}, time.Time{}
		if out[a].Journal != nil {
			ta = out[a].Journal.CreatedAt
		}
		if out[b].Journal != nil {
			tb = out[b].Journal.CreatedAt
		}
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return out[a].Key < out[b].Key
	})
	return out
}

// journalKey is the key of a journal file's name: not a hidden file (a
// temporary one of atomicfile), ending in .json.
func journalKey(name string) (string, bool) {
	key, ok := strings.CutSuffix(name, ".json")
	return key, ok && key != "" && !strings.HasPrefix(key, ".")
}

// fileKeyLen is the length of Fingerprint.FileKey.
const fileKeyLen = 12

// index is a Store's map of its directory: the keys of its journals by
// their first fileKeyLen characters (the FileKey). The first ListFile
// builds it from one listing; Save and Remove keep it up to date, so that
// ListFile costs a map look-up and the reading of the file's own journals,
// not a listing of the directory per file.
type index map[string]map[string]bool

// indexMu guards the idx field of every Store and the index it points to:
// a few map operations per journal write, under no contention that counts.
var indexMu sync.Mutex

// fileKeys returns the keys of the journals whose key starts with
// fileKey, listing the directory if the Store has no index yet.
func (s *Store) fileKeys(fileKey string) ([]string, error) {
	indexMu.Lock()
	defer indexMu.Unlock()
	if s.idx == nil {
		des, err := os.ReadDir(s.Dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		idx := index{}
		for _, de := range des {
			if key, ok := journalKey(de.Name()); ok && len(key) >= fileKeyLen && !de.IsDir() {
				idx.set(key, true)
			}
		}
		s.idx = idx
	}
	var keys []string
	for key := range s.idx[fileKey] {
		keys = append(keys, key)
	}
	return keys, nil
}

// indexed records in the Store's index, if it has one, that key's journal
// now exists (or not).
func (s *Store) indexed(key string, exists bool) {
	if len(key) < fileKeyLen {
		return
	}
	indexMu.Lock()
	defer indexMu.Unlock()
	if s.idx != nil {
		s.idx.set(key, exists)
	}
}

func (idx index) set(key string, exists bool) {
	fk := key[:fileKeyLen]
	switch {
	case exists && idx[fk] == nil:
		idx[fk] = map[string]bool{key: true}
	case exists:
		idx[fk][key] = true
	default:
		delete(idx[fk], key)
		if len(idx[fk]) == 0 {
			delete(idx, fk)
		}
	}
}

// Plan cuts size bytes into parts of partSize (the last may be shorter).
func Plan(size, partSize int64) []Part {
	var parts []Part
	for off := int64(0); off < size; off += partSize {
		parts = append(parts, Part{Offset: off, Length: min(partSize, size-off)})
	}
	return parts
}
