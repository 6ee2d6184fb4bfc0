package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/uploads-dev/uploads/internal/atomicfile"
	"github.com/uploads-dev/uploads/internal/upload"
)

// manifestRecord is one line of put's --manifest: what became of one file.
type manifestRecord struct {
	Path     string `json:"path"`
	Size     int64  `json:"size,omitempty"`
	MD5      string `json:"md5,omitempty"`
	Purpose  string `json:"purpose"`
	UploadID string `json:"upload_id,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	// Status is completed, skipped (uploaded before: --skip-existing),
	// failed, interrupted, not_started, or ignored (not a file to upload:
	// empty, not regular, a symlink; Error says why).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// manifest is put's --manifest FILE: a JSON Lines record per file that
// has ended, in the order of the arguments, then the paths the listing
// ignored. The file is always replaced whole and atomically (see
// atomicfile), so that a reader never sees half a manifest; it exists from
// the start (check) and is complete once the last file has ended (or at
// flush).
//
// Between the two it is rewritten geometrically, not at each file: only
// once as many records have ended since the last write as that write held.
// Each write is at most twice the size of the one before, so all of them
// together come to about twice the final manifest: a run of n files writes
// O(n) bytes and fsyncs O(log n) times, where a rewrite per file was
// O(n²) bytes and n fsyncs. A reader during the run sees at least half of
// the records ended so far.
type manifest struct {
	path     string
	mu       sync.Mutex
	records  [][]byte // the JSON line of each file that has ended, by argument index
	ignored  [][]byte // after the files, in the order they were met
	finished int      // files with a record
	pending  int      // records set since the last write
	last     int      // records (ignored ones included) in the last write
	// writes and bytes count what went to disk, for the tests.
	writes int
	bytes  int64
}

func newManifest(path string, files int) *manifest {
	if path == "" {
		return nil
	}
	return &manifest{path: path, records: make([][]byte, files)}
}

// check makes sure the manifest can be written before anything is sent.
func (m *manifest) check() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.write()
}

// ended records what became of file i: res when it completed, else err.
func (m *manifest) ended(i int, path, purpose string, res *upload.Result, err error, interrupted bool) error {
	if m == nil {
		return nil
	}
	rec := &manifestRecord{Path: path, Purpose: purpose}
	var fe *upload.FailedError
	switch {
	case res != nil:
		rec.Size, rec.MD5, rec.UploadID, rec.FileID, rec.Status = res.Size, res.MD5, res.UploadID, res.FileID, "completed"
	case err == nil:
		rec.Status = "not_started"
	default:
		rec.Status, rec.Error = "failed", err.Error()
		if interrupted {
			rec.Status = "interrupted"
		}
		if errors.As(err, &fe) {
			rec.UploadID = fe.UploadID
		}
		if st, serr := os.Stat(path); serr == nil && st.Mode().IsRegular() {
			rec.Size = st.Size()
		}
	}
	return m.set(i, rec)
}

// ignore records a path the listing left out, before the run.
func (m *manifest) ignore(path, purpose, reason string) {
	if m == nil {
		return
	}
	line, err := json.Marshal(&manifestRecord{Path: path, Purpose: purpose, Status: "ignored", Error: reason})
	if err != nil {
		return // strings and ints: cannot fail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ignored = append(m.ignored, append(line, '\n'))
	m.pending++
}

// skipped records a file not uploaded because its content is on the
// server already.
func (m *manifest) skipped(i int, pf *putFile, res *putResult) error {
	if m == nil {
		return nil
	}
	return m.set(i, &manifestRecord{Path: pf.Path, Size: pf.Size, MD5: pf.MD5, Purpose: pf.Purpose, FileID: res.FileID, Status: "skipped"})
}

// set records file i's rec, and writes the manifest when enough records
// have ended since the last write (see manifest), or when this was the
// last file.
func (m *manifest) set(i int, rec *manifestRecord) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records[i] == nil {
		m.finished++
	}
	m.records[i] = append(line, '\n')
	m.pending++
	if m.pending < max(m.last, 1) && m.finished < len(m.records) {
		return nil
	}
	return m.write()
}

// flush writes the records not written yet, if any: put calls it when its
// files have ended, so that the manifest is exact whatever stopped the run.
func (m *manifest) flush() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == 0 && m.writes > 0 {
		return nil
	}
	return m.write()
}

// write replaces the manifest with the records so far; the caller holds
// m.mu. After a failure the records stay pending: the next set or flush
// tries again.
func (m *manifest) write() error {
	var size, n int
	for _, r := range m.records {
		size += len(r)
	}
	for _, r := range m.ignored {
		size += len(r)
	}
	data := make([]byte, 0, size)
	for _, r := range m.records {
		if r != nil {
			data = append(data, r...)
			n++
		}
	}
	for _, r := range m.ignored {
		data = append(data, r...)
		n++
	}
	if err := atomicfile.Write(m.path, data, 0o644); err != nil {
		return fmt.Errorf("write the manifest %s: %w", m.path, err)
	}
	m.writes++
	m.bytes += int64(len(data))
	m.pending, m.last = 0, n
	return nil
}
