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
// has ended, in the order of the arguments, replaced atomically (see
// atomicfile) each time a file ends, so that a reader never sees half a
// manifest.
type manifest struct {
	path    string
	mu      sync.Mutex
	records []*manifestRecord
	ignored []*manifestRecord // after the files, in the order they were met
}

func newManifest(path string, files int) *manifest {
	if path == "" {
		return nil
	}
	return &manifest{path: path, records: make([]*manifestRecord, files)}
}

// check makes sure the manifest can be written before anything is sent.
func (m *manifest) check() error {
	if m == nil {
		return nil
	}
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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[i] = rec
	return m.write()
}

// ignore records a path the listing left out, before the run.
func (m *manifest) ignore(path, purpose, reason string) {
	if m != nil {
		m.ignored = append(m.ignored, &manifestRecord{Path: path, Purpose: purpose, Status: "ignored", Error: reason})
	}
}

// skipped records a file not uploaded because its content is on the
// server already.
func (m *manifest) skipped(i int, pf *putFile, res *putResult) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[i] = &manifestRecord{Path: pf.Path, Size: pf.Size, MD5: pf.MD5, Purpose: pf.Purpose, FileID: res.FileID, Status: "skipped"}
	return m.write()
}

// write replaces the manifest with the records so far; the caller holds
// m.mu (or is alone).
func (m *manifest) write() error {
	var data []byte
	for _, r := range append(m.records[:len(m.records):len(m.records)], m.ignored...) {
		if r == nil {
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		data = append(append(data, b...), '\n')
	}
	if err := atomicfile.Write(m.path, data, 0o644); err != nil {
		return fmt.Errorf("write the manifest %s: %w", m.path, err)
	}
	return nil
}
