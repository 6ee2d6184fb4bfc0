package seen

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/uploads-dev/uploads/internal/atomicfile"
)

// header is the index file's first line.
type header struct {
	Version int `json:"version"`
	// ID is random, new each time the file is written whole: a reader that
	// finds the header it read before knows that the file only grew.
	ID string `json:"id"`
}

// line is a line after the header: a record, or with Forget a tombstone
// that drops the record of its key.
type line struct {
	BaseURL    string    `json:"base_url"`
	Purpose    string    `json:"purpose"`
	Size       int64     `json:"size"`
	MD5        string    `json:"md5"`
	FileID     string    `json:"file_id,omitempty"`
	Filename   string    `json:"filename,omitempty"`
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	Path       string    `json:"path,omitempty"`
	Forget     bool      `json:"forget,omitempty"`
}

// encodeLine is the line of a record of k, or with r nil of a tombstone,
// newline included.
func encodeLine(k key, r *Record) ([]byte, error) {
	l := line{BaseURL: k.BaseURL, Purpose: k.Purpose, Size: k.Size, MD5: k.MD5, Forget: r == nil}
	if r != nil {
		l.FileID, l.Filename, l.UploadedAt, l.Path = r.FileID, r.Filename, r.UploadedAt, r.Path
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("record an uploaded file: %w", err)
	}
	return append(b, '\n'), nil
}

// view is what the file held when it was read.
type view struct {
	records map[key]Record // the live records
	head    []byte         // the header line, newline included; nil when there was no file or an empty one
	lines   int            // how many lines follow the header: records, superseded or not, and tombstones
	off     int64          // where the last whole line ends; what follows is a line being written, or torn
}

func emptyView() view { return view{records: map[key]Record{}} }

// decode parses an index file: its header, then its lines up to the last
// newline. Unknown fields are ignored: a later version may add some without
// changing SchemaVersion.
func decode(data []byte) (view, error) {
	v := emptyView()
	if len(data) == 0 {
		return v, nil
	}
	var h header
	i := bytes.IndexByte(data, '\n')
	if i < 0 || json.Unmarshal(data[:i], &h) != nil || h.Version == 0 {
		// Schema version 1 was one JSON document.
		var old struct {
			Version int `json:"version"`
		}
		if json.Unmarshal(data, &old) == nil && old.Version != 0 {
			h.Version = old.Version
		} else {
			return v, errors.New("not an index: no header line")
		}
	}
	if h.Version != SchemaVersion {
		return v, fmt.Errorf("schema version %d, this uploads reads %d", h.Version, SchemaVersion)
	}
	if h.ID == "" {
		return v, errors.New("not an index: the header has no id")
	}
	v.head = bytes.Clone(data[:i+1])
	v.off = int64(i + 1)
	return v, v.more(data[i+1:])
}

// more applies the whole lines of data, read from v.off on, and moves v.off
// past them.
func (v *view) more(data []byte) error {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		if !v.apply(data[:i]) {
			return fmt.Errorf("line %d is malformed", v.lines+2)
		}
		v.lines++
		v.off += int64(i) + 1
		data = data[i+1:]
	}
}

// apply applies one line, and reports whether it was a record or a tombstone.
func (v *view) apply(b []byte) bool {
	var l line
	if json.Unmarshal(b, &l) != nil {
		return false
	}
	k, err := makeKey(l.BaseURL, l.Purpose, l.Size, l.MD5)
	if err != nil || k != (key{BaseURL: l.BaseURL, Purpose: l.Purpose, Size: l.Size, MD5: l.MD5}) {
		return false
	}
	switch {
	case l.Forget && l.FileID == "":
		delete(v.records, k)
	case !l.Forget && l.FileID != "":
		v.records[k] = Record{FileID: l.FileID, Filename: l.Filename, UploadedAt: l.UploadedAt, Path: l.Path}
	default:
		return false
	}
	return true
}

// change appends a record of k (r), or a tombstone (r nil) if there is a
// record to drop, under the lock, after reading what other processes
// appended; or rewrites the file when that is due.
func (ix *Index) change(k key, r *Record) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	unlock, err := ix.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	tail, err := ix.readLocked()
	if err != nil {
		return err
	}
	if _, ok := ix.v.records[k]; !ok && r == nil {
		return nil
	}
	b, err := encodeLine(k, r)
	if err != nil {
		return err
	}
	if tail > 0 {
		ix.warnings = append(ix.warnings, fmt.Errorf("the index of uploaded files %s ended with a partly written line (%d bytes), left by an uploads that was interrupted; dropped it", ix.path, tail))
	}
	if r == nil {
		delete(ix.v.records, k)
	} else {
		ix.v.records[k] = *r
	}
	if ix.v.head == nil || ix.compactDue() {
		err = ix.rewriteLocked()
	} else {
		err = ix.appendLocked(b, tail)
	}
	if err != nil {
		ix.loaded = nil // memory may hold what the file does not: read it whole again
		return fmt.Errorf("write the index of uploaded files: %w", err)
	}
	return nil
}

// compactDue reports whether the file, with one line more, is to be
// rewritten: when it has more than 2 × max lines, or past max/4 lines when
// more than three lines in four are superseded records and tombstones. Either
// way a rewrite writes no more records than there were appends since the
// last one, so a change costs O(1) amortized.
func (ix *Index) compactDue() bool {
	lines, live := ix.v.lines+1, len(ix.v.records)
	return lines > 2*ix.max || (lines > ix.max/4 && lines-live > 3*live)
}

// appendLocked appends b to the file, after cutting off a torn last line of
// tail bytes. The lock is held.
func (ix *Index) appendLocked(b []byte, tail int64) error {
	f, err := os.OpenFile(ix.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if tail > 0 {
		if err := f.Truncate(ix.v.off); err != nil {
			return err
		}
	}
	// No fsync: the index is a cache of what the server holds, which
	// --skip-existing confirms with the server; a record a crash loses
	// means that content is uploaded again, and an fsync per file was the
	// larger part of its cost for small files.
	if _, err := f.Write(b); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ix.v.lines++
	ix.v.off += int64(len(b))
	ix.loaded = st
	return nil
}

// rewriteLocked replaces the file, atomically, with a new header and the
// newest ix.max records, oldest first. The lock is held.
func (ix *Index) rewriteLocked() error {
	type entry struct {
		k key
		r Record
	}
	entries := make([]entry, 0, len(ix.v.records))
	for k, r := range ix.v.records {
		entries = append(entries, entry{k, r})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(a.r.UploadedAt.Compare(b.r.UploadedAt),
			strings.Compare(a.k.BaseURL, b.k.BaseURL), strings.Compare(a.k.Purpose, b.k.Purpose),
			cmp.Compare(a.k.Size, b.k.Size), strings.Compare(a.k.MD5, b.k.MD5))
	})
	if len(entries) > ix.max {
		for _, e := range entries[:len(entries)-ix.max] {
			delete(ix.v.records, e.k)
		}
		entries = entries[len(entries)-ix.max:]
	}
	head, err := json.Marshal(header{Version: SchemaVersion, ID: rand.Text()})
	if err != nil {
		return err
	}
	head = append(head, '\n')
	data := append(make([]byte, 0, len(head)+256*len(entries)), head...)
	for _, e := range entries {
		b, err := encodeLine(e.k, &e.r)
		if err != nil {
			return err
		}
		data = append(data, b...)
	}
	if err := atomicfile.Write(ix.path, data, 0o600); err != nil {
		return err
	}
	st, err := os.Stat(ix.path)
	if err != nil {
		return err
	}
	ix.v.head, ix.v.lines, ix.v.off = head, len(entries), int64(len(data))
	ix.loaded = st
	return nil
}

// refresh brings ix.v up to date if the file changed since it was read,
// without the lock; only a damaged file takes the lock, to move it aside.
func (ix *Index) refresh() error {
	st, err := os.Stat(ix.path)
	if errors.Is(err, fs.ErrNotExist) {
		ix.v, ix.loaded = emptyView(), nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the index of uploaded files: %w", err)
	}
	if unchanged(ix.loaded, st) && st.Size() == ix.v.off {
		return nil
	}
	_, err = ix.load()
	var de *DamagedError
	if !errors.As(err, &de) {
		return err
	}
	unlock, err := ix.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	_, err = ix.readLocked()
	return err
}

// readLocked brings ix.v up to date, moving the file aside if it is damaged,
// and returns the length of a torn last line. The lock is held, so no line is
// being written: what follows the last newline is torn.
func (ix *Index) readLocked() (tail int64, err error) {
	tail, err = ix.load()
	var de *DamagedError
	if !errors.As(err, &de) {
		return tail, err
	}
	aside := fmt.Sprintf("%s.damaged-%s", ix.path, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if os.Rename(ix.path, aside) == nil {
		de.MovedTo = aside
	}
	ix.warnings = append(ix.warnings, de)
	ix.v, ix.loaded = emptyView(), nil
	return 0, nil
}

// load brings ix.v up to date with the file: only the bytes after ix.v.off
// if the file only grew since, all of it otherwise. It returns how many
// bytes follow the last newline. A file that is not an index is a
// *DamagedError.
func (ix *Index) load() (tail int64, err error) {
	f, err := os.Open(ix.path)
	if errors.Is(err, fs.ErrNotExist) {
		ix.v, ix.loaded = emptyView(), nil
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the index of uploaded files: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read the index of uploaded files: %w", err)
	}
	if ix.grew(f, st) {
		start := ix.v.off
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return 0, fmt.Errorf("read the index of uploaded files: %w", err)
		}
		data, err := io.ReadAll(f)
		if err != nil {
			return 0, fmt.Errorf("read the index of uploaded files: %w", err)
		}
		if err := ix.v.more(data); err != nil {
			ix.loaded = nil // ix.v is partly updated: read the file whole next time
			return 0, &DamagedError{Path: ix.path, Err: err}
		}
		ix.loaded = st
		return start + int64(len(data)) - ix.v.off, nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, fmt.Errorf("read the index of uploaded files: %w", err)
	}
	v, err := decode(data)
	if err != nil {
		return 0, &DamagedError{Path: ix.path, Err: err}
	}
	ix.v, ix.loaded = v, st
	return int64(len(data)) - v.off, nil
}

// grew reports whether the open file f (st) is the one ix.v was read from,
// with only lines appended since: the same file, no shorter, and with the
// same header (a file rewritten whole has a new one, even if the system
// gave it the number of the old).
func (ix *Index) grew(f *os.File, st fs.FileInfo) bool {
	if ix.loaded == nil || ix.v.head == nil || !os.SameFile(ix.loaded, st) || st.Size() < ix.v.off {
		return false
	}
	head := make([]byte, len(ix.v.head))
	_, err := f.ReadAt(head, 0)
	return err == nil && bytes.Equal(head, ix.v.head)
}

// unchanged reports whether the file st looks like the one read as was.
func unchanged(was, st fs.FileInfo) bool {
	return was != nil && os.SameFile(was, st) && was.Size() == st.Size() && was.ModTime().Equal(st.ModTime())
}
