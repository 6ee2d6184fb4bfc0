package runjournal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecordsSurviveAndFinishRemoves(t *testing.T) {
	dir := t.TempDir()
	k := Key{BaseURL: "https://user:secret@API.example.com/v1/", Purpose: "batch", Args: []string{"/data/in"}}
	r, err := Open(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Record{Path: "/data/in/a.jsonl", Size: 10, ModTime: 5, FileID: "file-a"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Record{Path: "/data/in/b.jsonl", Size: 20, ModTime: 6, FileID: "file-b"}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	data, _ := os.ReadFile(r.Path())
	if strings.Contains(string(data), "secret") {
		t.Fatalf("the journal holds the URL's credentials:\n%s", data)
	}
	// A kill in the middle of a record: the torn line is ignored.
	f, _ := os.OpenFile(r.Path(), os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(`{"path":"/data/in/c.jsonl","si`)
	f.Close()

	// The same command (the URL spelled otherwise) finds both; a changed
	// file does not count.
	r2, err := Open(dir, Key{BaseURL: "https://api.example.com/v1", Purpose: "batch", Args: []string{"/data/in"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec, ok := r2.Done("/data/in/a.jsonl", 10, 5); !ok || rec.FileID != "file-a" {
		t.Errorf("a: %+v %v", rec, ok)
	}
	if _, ok := r2.Done("/data/in/b.jsonl", 20, 7); ok {
		t.Error("b changed (mtime) and still counts as done")
	}
	if _, ok := r2.Done("/data/in/c.jsonl", 1, 1); ok {
		t.Error("the torn record counts")
	}
	if err := r2.Add(Record{Path: "/data/in/c.jsonl", Size: 1, ModTime: 1, FileID: "file-c"}); err != nil {
		t.Fatal(err)
	}
	r2.Close()
	r3, _ := Open(dir, Key{BaseURL: "https://api.example.com/v1", Purpose: "batch", Args: []string{"/data/in"}})
	if r3.Len() != 3 {
		t.Errorf("after a torn line and one more record: %d records, want 3", r3.Len())
	}
	// Another command is another run.
	other, _ := Open(dir, Key{BaseURL: "https://api.example.com/v1", Purpose: "fine-tune", Args: []string{"/data/in"}})
	if other.Len() != 0 || other.Path() == r3.Path() {
		t.Errorf("another purpose shares the run's journal")
	}
	if err := r3.Finish(); err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 0 {
		t.Errorf("after Finish the directory holds %v", names)
	}
}

func TestOldJournalsAreSwept(t *testing.T) {
	dir := t.TempDir()
	k := Key{BaseURL: "https://api.example.com/v1", Purpose: "batch", Args: []string{"/x"}}
	r, _ := Open(dir, k)
	if err := r.Add(Record{Path: "/x/a", Size: 1, ModTime: 1, FileID: "file-a"}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	later := func() time.Time { return time.Now().Add(MaxAge + time.Hour) }
	r2, err := open(dir, k, later)
	if err != nil || r2.Len() != 0 {
		t.Fatalf("a journal older than MaxAge is used: %d records, %v", r2.Len(), err)
	}
	r, _ = Open(dir, k)
	_ = r.Add(Record{Path: "/x/a", Size: 1, ModTime: 1, FileID: "file-a"})
	r.Close()
	_, _ = open(dir, Key{BaseURL: "https://api.example.com/v1", Purpose: "other"}, later)
	if names, _ := filepath.Glob(filepath.Join(dir, "run-*.jsonl")); len(names) != 0 {
		t.Errorf("old journals of other runs are not swept: %v", names)
	}
}

func TestDamagedJournalIsSetAside(t *testing.T) {
	dir := t.TempDir()
	k := Key{BaseURL: "https://api.example.com/v1", Purpose: "batch"}
	r, _ := Open(dir, k)
	if err := os.WriteFile(r.Path(), []byte("not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(dir, k)
	if err == nil || !strings.Contains(err.Error(), "cannot be read") || r2 == nil || r2.Len() != 0 {
		t.Fatalf("a damaged journal: %v", err)
	}
}
