package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/upload"
)

// readManifest reads a manifest that must be whole (see parseManifest).
func readManifest(t *testing.T, path string) []manifestRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := parseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// parseManifest parses JSON lines, each a record ended by a newline.
func parseManifest(data []byte) ([]manifestRecord, error) {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("the manifest does not end with a newline: %q", data[max(0, len(data)-80):])
	}
	var recs []manifestRecord
	for line := range bytes.Lines(data) {
		var r manifestRecord
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("a line of the manifest is not a record (%v): %q", err, line)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// A run of 10,000 files writes the manifest O(log n) times and about twice
// its final size in all (plus the final write), where a rewrite per file
// wrote it 10,000 times and O(n²) bytes; the final manifest is exact, in
// the order of the arguments, then the ignored paths.
func TestManifestWritesGeometrically(t *testing.T) {
	const n = 10000
	path := filepath.Join(t.TempDir(), "out.jsonl")
	m := newManifest(path, n)
	m.ignore("empty.jsonl", "batch", "empty file")
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	if recs := readManifest(t, path); len(recs) != 1 || recs[0].Status != "ignored" {
		t.Fatalf("the manifest at the start holds %+v, want the ignored path", recs)
	}
	// The files end out of order, as --jobs makes them.
	for k := range n {
		i := (k * 7919) % n // 7919 is prime: a permutation of 0..n-1
		p := fmt.Sprintf("f%05d.jsonl", i)
		var err error
		switch i % 4 {
		case 0, 1:
			err = m.ended(i, p, "batch", &upload.Result{Size: 4096, MD5: "0123456789abcdef0123456789abcdef", UploadID: "upload_1", FileID: "file-1"}, nil, false)
		case 2:
			err = m.skipped(i, &putFile{Path: p, Size: 4096, Purpose: "batch"}, &putResult{FileID: "file-2"})
		default:
			err = m.ended(i, p, "batch", nil, errors.New("refused"), false)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := m.flush(); err != nil {
		t.Fatal(err)
	}
	final, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records: %d writes, %d bytes written, final size %d", n, m.writes, m.bytes, final.Size())
	if m.writes > 20 {
		t.Errorf("%d writes, want O(log n) (at most 20)", m.writes)
	}
	if m.bytes > 3*final.Size() {
		t.Errorf("%d bytes written for a manifest of %d: more than twice, plus the final write", m.bytes, final.Size())
	}
	recs := readManifest(t, path)
	if len(recs) != n+1 || recs[n].Path != "empty.jsonl" || recs[n].Status != "ignored" {
		t.Fatalf("the final manifest holds %d records (last %+v), want %d then the ignored path", len(recs), recs[len(recs)-1], n)
	}
	for i, r := range recs[:n] {
		want := map[int]string{0: "completed", 1: "completed", 2: "skipped", 3: "failed"}[i%4]
		if r.Path != fmt.Sprintf("f%05d.jsonl", i) || r.Status != want {
			t.Fatalf("record %d is %+v, want f%05d.jsonl %s", i, r, i, want)
		}
	}
}

// A reader during the run always finds a whole manifest, never fewer
// records than it found before; the writers end files concurrently.
func TestManifestReaderNeverSeesAPartialFile(t *testing.T) {
	const n, workers = 2000, 8
	path := filepath.Join(t.TempDir(), "out.jsonl")
	m := newManifest(path, n)
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	read := make(chan int)
	go func() {
		reads, seen := 0, 0
		for {
			select {
			case <-done:
				read <- reads
				return
			default:
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				continue
			}
			recs, err := parseManifest(data)
			if err != nil {
				t.Error(err)
			}
			if len(recs) < seen {
				t.Errorf("a reader saw %d records after %d", len(recs), seen)
			}
			seen = len(recs)
			reads++
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := m.ended(i, fmt.Sprintf("f%05d", i), "batch", &upload.Result{Size: 1, FileID: "file-1"}, nil, false); err != nil {
					t.Error(err)
				}
				if i%100 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	t.Logf("%d reads during the run", <-read)
	if recs := readManifest(t, path); len(recs) != n {
		t.Fatalf("the final manifest holds %d records, want %d", len(recs), n)
	}
}

// An interrupted run: the files that were stopped or never started are
// recorded as such, and flush leaves the manifest exact even when the
// last file's write failed.
func TestManifestFlushWritesWhatIsPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.jsonl")
	m := newManifest(path, 4)
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	res := &upload.Result{Size: 1, FileID: "file-1"}
	for i := range 3 { // writes after the first and the second; the third waits
		if err := m.ended(i, fmt.Sprintf("f%d", i), "batch", res, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	if recs := readManifest(t, path); len(recs) != 2 {
		t.Fatalf("the manifest holds %d records before the flush, want 2 (geometric writes)", len(recs))
	}
	if err := m.flush(); err != nil {
		t.Fatal(err)
	}
	if recs := readManifest(t, path); len(recs) != 3 {
		t.Fatalf("after flush the manifest holds %d records, want 3", len(recs))
	}
	// The last file is interrupted while its write cannot happen.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := m.ended(3, "f3", "batch", nil, errors.New("context canceled"), true); err == nil {
		t.Fatal("the write into a missing directory succeeded")
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if err := m.flush(); err != nil {
		t.Fatal(err)
	}
	recs := readManifest(t, path)
	if len(recs) != 4 || recs[3].Status != "interrupted" || recs[3].Error != "context canceled" {
		t.Fatalf("after the flush the manifest holds %+v, want the interrupted file last", recs)
	}
	writes := m.writes
	if err := m.flush(); err != nil || m.writes != writes {
		t.Fatalf("a flush with nothing pending wrote (%d writes, was %d): %v", m.writes, writes, err)
	}
	if err := (*manifest)(nil).flush(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkManifest ends n files of a --manifest run, in order, and
// reports the cost per file: flat in n since the writes are geometric.
// Run with -benchtime=1x: each iteration is a whole run.
func BenchmarkManifest(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			for b.Loop() {
				path := filepath.Join(b.TempDir(), "out.jsonl")
				m := newManifest(path, n)
				if err := m.check(); err != nil {
					b.Fatal(err)
				}
				began := time.Now()
				for i := range n {
					res := &upload.Result{Size: 4096, MD5: "0123456789abcdef0123456789abcdef", UploadID: "upload_0123456789abcdef", FileID: "file-0123456789abcdef"}
					if err := m.ended(i, fmt.Sprintf("data/f%05d.jsonl", i), "batch", res, nil, false); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(time.Since(began).Microseconds())/float64(n), "µs/file")
			}
		})
	}
}
