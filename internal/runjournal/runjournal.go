// Package runjournal remembers which files of one run of `uploads put` are on
// the server already, so that the same command run again after an
// interruption — Ctrl-C, a crash, a CI job killed with SIGKILL and retried —
// sends each file once: the files an earlier attempt completed are not sent
// again, their ids are taken from here.
//
// A run is named by a key over the command: the server (its base URL without
// credentials), the purpose, the MIME type and expiry asked for, and what
// selects the files (the arguments made absolute, --recursive and the
// patterns); not the files found, so that a job rerun after one bad file was
// fixed or removed still continues. Its journal is a
// JSON Lines file beside the resume journals, run-KEY.jsonl: a header, then
// one record per completed file (its path, size and modification time, and
// the file it became), each appended and fsynced before the file's own resume
// journal is removed, so that no moment of a run leaves a completed file
// known to neither. A record counts only while the file's size and
// modification time are unchanged. The journal is removed when every file of
// the run has ended well, and journals untouched for MaxAge are swept; a
// torn last line (a kill mid-write) is ignored.
package runjournal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/uploads-dev/uploads/internal/seen"
)

// MaxAge is how long a run's journal is used after its last record: a job
// retried within a week continues; after that the same command uploads its
// files again.
const MaxAge = 7 * 24 * time.Hour

// version is the header's schema version.
const version = 1

// Key is what names a run.
type Key struct {
	BaseURL      string
	Purpose      string
	MimeType     string
	ExpiresAfter int64
	// Args are the file and directory arguments, absolute, in order, and
	// Select the rest of what selects the files (--recursive, patterns).
	Args   []string
	Select []string
}

// name is the run's hash: 24 hexadecimal digits.
func (k Key) name() string {
	h := sha256.New()
	// The server as the index of uploaded content names it: without
	// credentials, and spelled one way (an unparsable URL, which the
	// client refuses before any run, hashes as nothing).
	base, _ := seen.CleanURL(k.BaseURL)
	fmt.Fprintf(h, "v%d\x00%s\x00%s\x00%s\x00%d", version, base, k.Purpose, k.MimeType, k.ExpiresAfter)
	for _, list := range [][]string{k.Args, k.Select} {
		fmt.Fprintf(h, "\x00%d", len(list))
		for _, s := range list {
			fmt.Fprintf(h, "\x00%s", s)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// Record is one completed file of a run.
type Record struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	ModTime  int64  `json:"mtime_ns"`
	MD5      string `json:"md5,omitempty"`
	UploadID string `json:"upload_id,omitempty"`
	FileID   string `json:"file_id"`
	// Upload is the completed Upload object as the API returned it.
	Upload json.RawMessage `json:"upload,omitempty"`
}

type header struct {
	V       int       `json:"v"`
	Run     string    `json:"run"`
	Started time.Time `json:"started"`
}

// Run is the journal of one run. Its methods are safe for concurrent use.
type Run struct {
	path string
	mu   sync.Mutex
	f    *os.File // open for appending once the first record is written
	done map[string]Record
	now  func() time.Time
	// valid is how many bytes of the journal on disk are whole lines:
	// what a kill may have left after them is cut before the next record.
	valid int64
}

// Open reads the journal of k in dir, if there is one younger than MaxAge,
// and sweeps the journals of other runs older than that. A journal that
// cannot be read is set aside (its records are not used) and replaced by
// the first record written; the error says so, and the run goes on.
func Open(dir string, k Key) (*Run, error) {
	return open(dir, k, time.Now)
}

func open(dir string, k Key, now func() time.Time) (*Run, error) {
	r := &Run{path: filepath.Join(dir, "run-"+k.name()+".jsonl"), done: map[string]Record{}, now: now}
	sweep(dir, r.path, now())
	st, err := os.Stat(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return r, err
	case now().Sub(st.ModTime()) > MaxAge:
		_ = os.Remove(r.path)
		return r, nil
	}
	data, err := os.ReadFile(r.path)
	if err != nil {
		return r, err
	}
	if err := r.decode(data, k.name()); err != nil {
		r.done = map[string]Record{}
		_ = os.Remove(r.path)
		return r, fmt.Errorf("the journal of this run %s cannot be read (%w); removed it: files it recorded are uploaded again", r.path, err)
	}
	return r, nil
}

// decode reads a journal: the header, then records; a last line without
// its newline is a write cut short and is ignored.
func (r *Run) decode(data []byte, name string) error {
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1]
	}
	r.valid = int64(len(data))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	first := true
	for sc.Scan() {
		if first {
			var h header
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.V != version || h.Run != name {
				return errors.New("its header is not this run's")
			}
			first = false
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Path == "" || rec.FileID == "" {
			return fmt.Errorf("a record does not parse: %.80q", sc.Text())
		}
		r.done[rec.Path] = rec
	}
	return sc.Err()
}

// sweep removes the journals of runs other than keep untouched for MaxAge.
func sweep(dir, keep string, now time.Time) {
	names, _ := filepath.Glob(filepath.Join(dir, "run-*.jsonl"))
	for _, n := range names {
		if n == keep {
			continue
		}
		if st, err := os.Stat(n); err == nil && now.Sub(st.ModTime()) > MaxAge {
			_ = os.Remove(n)
		}
	}
}

// Path is the journal's file.
func (r *Run) Path() string { return r.path }

// Done returns the record of path when an earlier attempt of the run
// completed it and the file has not changed since (same size and
// modification time).
func (r *Run) Done(path string, size, modTime int64) (Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.done[path]
	if !ok || rec.Size != size || rec.ModTime != modTime {
		return Record{}, false
	}
	return rec, true
}

// Len is how many files earlier attempts of the run completed.
func (r *Run) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.done)
}

// Add appends rec and makes it durable (fsync) before it returns.
func (r *Run) Add(rec Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.create(); err != nil {
			return fmt.Errorf("the journal of this run: %w", err)
		}
	}
	if _, err := r.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("the journal of this run: %w", err)
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("the journal of this run: %w", err)
	}
	// Not kept in memory: Done answers for earlier attempts, and a run of
	// 100,000 files should not hold each Upload object it made.
	return nil
}

// create opens the journal for appending: the existing one (its records
// read by Open), or a new one with its header, made durable with its
// directory entry.
func (r *Run) create() error {
	if len(r.done) > 0 {
		f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err == nil {
			if err := f.Truncate(r.valid); err != nil {
				f.Close()
				return err
			}
			r.f = f
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	h, _ := json.Marshal(header{V: version, Run: strings.TrimSuffix(strings.TrimPrefix(filepath.Base(r.path), "run-"), ".jsonl"), Started: r.now().UTC()})
	if _, err := f.Write(append(h, '\n')); err != nil {
		f.Close()
		return err
	}
	if d, err := os.Open(filepath.Dir(r.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	r.f = f
	return nil
}

// Finish ends the run: every file ended well, the journal is no longer
// needed and is removed.
func (r *Run) Finish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.done = map[string]Record{}
	err := os.Remove(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Close closes the journal, keeping it for the next attempt.
func (r *Run) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
