package seen

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const base = "http://127.0.0.1:8080/v1"

func sum(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func open(t *testing.T, dir string) *Index {
	t.Helper()
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestRecordLookupForget(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	ix := open(t, dir)
	if _, ok := ix.Lookup(base, "batch", 5, sum("hello")); ok {
		t.Fatal("an empty index found something")
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	rec := Record{FileID: "file_1", Filename: "hello.txt", UploadedAt: at, Path: "/data/hello.txt"}
	if err := ix.Record(base, "batch", 5, sum("hello"), rec); err != nil {
		t.Fatal(err)
	}
	got, ok := ix.Lookup(base+"/", "batch", 5, strings.ToUpper(sum("hello")))
	if !ok || got.FileID != "file_1" || got.Filename != "hello.txt" || !got.UploadedAt.Equal(at) || got.Path != "/data/hello.txt" {
		t.Fatalf("Lookup = %+v, %v", got, ok)
	}
	// Every part of the key counts.
	for _, miss := range []func() (Record, bool){
		func() (Record, bool) { return ix.Lookup("http://127.0.0.1:8081/v1", "batch", 5, sum("hello")) },
		func() (Record, bool) { return ix.Lookup(base, "assistants", 5, sum("hello")) },
		func() (Record, bool) { return ix.Lookup(base, "batch", 6, sum("hello")) },
		func() (Record, bool) { return ix.Lookup(base, "batch", 5, sum("hellO")) },
		func() (Record, bool) { return ix.Lookup("not a url", "batch", 5, sum("hello")) },
		func() (Record, bool) { return ix.Lookup(base, "batch", 5, "xyz") },
	} {
		if r, ok := miss(); ok {
			t.Fatalf("a different key found %+v", r)
		}
	}
	// Another Index (another process) sees it, and the file is private.
	if r, ok := open(t, dir).Lookup(base, "batch", 5, sum("hello")); !ok || r.FileID != "file_1" {
		t.Fatalf("a second Open: %+v, %v", r, ok)
	}
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("index file: %v, %v", st, err)
	}
	// Recording again replaces.
	if err := ix.Record(base, "batch", 5, sum("hello"), Record{FileID: "file_2", Path: "/elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := ix.Lookup(base, "batch", 5, sum("hello")); r.FileID != "file_2" || r.UploadedAt.IsZero() {
		t.Fatalf("after a second Record: %+v", r)
	}
	if err := ix.Forget(base, "batch", 5, sum("hello")); err != nil {
		t.Fatal(err)
	}
	if _, ok := open(t, dir).Lookup(base, "batch", 5, sum("hello")); ok {
		t.Fatal("Forget did not forget")
	}
	if err := ix.Forget(base, "batch", 5, sum("hello")); err != nil {
		t.Fatalf("forgetting twice: %v", err)
	}
	if w := ix.Warnings(); len(w) != 0 {
		t.Fatalf("warnings: %v", w)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestRecordRefusesBadInput(t *testing.T) {
	ix := open(t, t.TempDir())
	for name, err := range map[string]error{
		"no file id":   ix.Record(base, "batch", 5, sum("x"), Record{}),
		"relative url": ix.Record("/v1", "batch", 5, sum("x"), Record{FileID: "f"}),
		"bad md5":      ix.Record(base, "batch", 5, "abc", Record{FileID: "f"}),
		"short md5":    ix.Record(base, "batch", 5, "abcd", Record{FileID: "f"}),
		"negative":     ix.Record(base, "batch", -1, sum("x"), Record{FileID: "f"}),
		"forget bad":   ix.Forget("::", "batch", 5, sum("x")),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNoSecretsStored(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	secret := "https://alice:s3cret@API.Example.COM/v1/?api_key=sk-live-123#token=abc"
	if err := ix.Record(secret, "batch", 1, sum("a"), Record{FileID: "file_a"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"alice", "s3cret", "sk-live", "token", "api_key"} {
		if strings.Contains(string(data), s) {
			t.Fatalf("the index holds %q:\n%s", s, data)
		}
	}
	if !strings.Contains(string(data), `"https://api.example.com/v1"`) {
		t.Fatalf("the base URL is not stored cleaned:\n%s", data)
	}
	if _, ok := ix.Lookup("https://api.example.com/v1", "batch", 1, sum("a")); !ok {
		t.Fatal("the cleaned URL does not find the record")
	}
	if err := ix.Record("http://u:p@[::1", "batch", 1, sum("a"), Record{FileID: "f"}); err == nil || strings.Contains(err.Error(), "p@") {
		t.Fatalf("a bad URL's error: %v", err)
	}
}

func TestBounded(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	ix.max = 5
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The 11th line (more than 2 × max) rewrites the file.
	for i := range 11 {
		// Recorded out of order: what counts is UploadedAt.
		n := (i * 3) % 11
		r := Record{FileID: fmt.Sprintf("file_%d", n), UploadedAt: t0.Add(time.Duration(n) * time.Minute)}
		if err := ix.Record(base, "batch", int64(n+1), sum(fmt.Sprint(n)), r); err != nil {
			t.Fatal(err)
		}
	}
	again := open(t, dir)
	for n := range 11 {
		_, ok := again.Lookup(base, "batch", int64(n+1), sum(fmt.Sprint(n)))
		if ok != (n >= 6) {
			t.Fatalf("record %d kept: %v; want the newest 5 only", n, ok)
		}
	}
	if lines := fileLines(t, dir); len(lines) != 6 {
		t.Fatalf("the rewritten file holds %d lines, want a header and 5 records", len(lines))
	}
}

func TestDamagedFileIsMovedAside(t *testing.T) {
	const head = `{"version":2,"id":"X"}` + "\n"
	good := `{"base_url":"http://x","purpose":"p","size":1,"md5":"` + sum("x") + `","file_id":"f"}` + "\n"
	for name, c := range map[string]struct{ content, why string }{
		"not json":            {"{\"version\":2,\"records\":[{", "no header line"},
		"no header":           {good, "no header line"},
		"header without id":   {`{"version":2}` + "\n" + good, "the header has no id"},
		"other version":       {`{"version":3,"id":"X"}` + "\n", "schema version 3, this uploads reads 2"},
		"version 1":           {"{\n \"version\": 1,\n \"records\": []\n}\n", "schema version 1, this uploads reads 2"},
		"bad md5":             {head + `{"base_url":"http://x","purpose":"p","size":1,"md5":"zz","file_id":"f"}` + "\n", "line 2 is malformed"},
		"not cleaned":         {head + `{"base_url":"http://u:p@x/","purpose":"p","size":1,"md5":"` + sum("x") + `","file_id":"f"}` + "\n", "line 2 is malformed"},
		"no file id":          {head + `{"base_url":"http://x","purpose":"p","size":1,"md5":"` + sum("x") + `"}` + "\n", "line 2 is malformed"},
		"forget with id":      {head + `{"base_url":"http://x","purpose":"p","size":1,"md5":"` + sum("x") + `","file_id":"f","forget":true}` + "\n", "line 2 is malformed"},
		"bad line, then good": {head + "{\n" + good, "line 2 is malformed"},
		"blank line":          {head + good + "\n" + good, "line 3 is malformed"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			ix := open(t, dir)
			if w := ix.Warnings(); len(w) != 1 || !strings.Contains(w[0].Error(), c.why) {
				t.Fatalf("warnings = %v; want one saying %q", w, c.why)
			} else {
				ix.warnings = w // for checkMovedAside
			}
			checkMovedAside(t, ix, path, c.content)
			if err := ix.Record(base, "batch", 1, sum("a"), Record{FileID: "file_a"}); err != nil {
				t.Fatal(err)
			}
			if _, ok := open(t, dir).Lookup(base, "batch", 1, sum("a")); !ok {
				t.Fatal("a record after the damage was lost")
			}
		})
	}
}

func TestDamageFoundLater(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	ix := open(t, dir)
	if err := ix.Record(base, "batch", 1, sum("a"), Record{FileID: "file_a"}); err != nil {
		t.Fatal(err)
	}
	// Another program scribbles over the file.
	if err := os.WriteFile(path, []byte("garbage, longer than before so that it looks changed........................................................................................................................................................................................................"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.Lookup(base, "batch", 1, sum("a")); ok {
		t.Fatal("a damaged index found a record")
	}
	checkMovedAside(t, ix, path, "garbage")
	// Record and Forget cope as well.
	if err := os.WriteFile(path, []byte("["), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ix.Forget(base, "batch", 1, sum("a")); err != nil {
		t.Fatal(err)
	}
	if w := ix.Warnings(); len(w) != 1 {
		t.Fatalf("warnings after Forget: %v", w)
	}
}

func checkMovedAside(t *testing.T, ix *Index, path, content string) {
	t.Helper()
	w := ix.Warnings()
	var de *DamagedError
	if len(w) != 1 || !errors.As(w[0], &de) || de.Path != path || !strings.HasPrefix(de.MovedTo, path+".damaged-") {
		t.Fatalf("warnings = %v; want one *DamagedError with the file moved aside", w)
	}
	if !strings.Contains(w[0].Error(), de.MovedTo) {
		t.Fatalf("the warning %q does not say where the file went", w[0])
	}
	kept, err := os.ReadFile(de.MovedTo)
	if err != nil || !strings.HasPrefix(string(kept), content) {
		t.Fatalf("the damaged file was not kept: %q, %v", kept, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the damaged file is still in place: %v", err)
	}
	if w := ix.Warnings(); len(w) != 0 {
		t.Fatalf("Warnings did not reset: %v", w)
	}
}

// TestConcurrentWriters records from goroutines through separate Indexes (as
// separate processes do, each with its own lock file descriptor) and through
// one shared Index: no record is lost.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	shared := open(t, dir)
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*each)
	for w := range 2 * writers {
		wg.Go(func() {
			ix := shared
			if w < writers {
				var err error
				if ix, err = Open(dir); err != nil {
					errs <- err
					return
				}
			}
			for i := range each {
				n := w*each + i
				if err := ix.Record(base, "batch", int64(n+1), sum(fmt.Sprint(n)), Record{FileID: fmt.Sprintf("file_%d", n)}); err != nil {
					errs <- err
				}
				ix.Lookup(base, "batch", 1, sum("0"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final := open(t, dir)
	for n := range 2 * writers * each {
		if r, ok := final.Lookup(base, "batch", int64(n+1), sum(fmt.Sprint(n))); !ok || r.FileID != fmt.Sprintf("file_%d", n) {
			t.Fatalf("record %d: %+v, %v", n, r, ok)
		}
	}
	for _, ix := range []*Index{shared, final} {
		if w := ix.Warnings(); len(w) != 0 {
			t.Fatalf("warnings: %v", w)
		}
	}
}

func FuzzDecode(f *testing.F) {
	const head = `{"version":2,"id":"X"}` + "\n"
	f.Add([]byte(head))
	f.Add([]byte(head + `{"base_url":"http://x","purpose":"p","size":1,"md5":"` + sum("x") + `","file_id":"f"}` + "\n"))
	f.Add([]byte(head + `{"base_url":"http://x","purpose":"p","size":1,"md5":"` + sum("x") + `","forget":true}` + "\n{\"base_u"))
	f.Add([]byte(`{"version":1,"records":[]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			return
		}
		if v.off > int64(len(data)) || (v.off > 0 && data[v.off-1] != '\n') || bytes.IndexByte(data[v.off:], '\n') >= 0 {
			t.Fatalf("decode stopped at %d of %q", v.off, data)
		}
		for k, r := range v.records {
			if r.FileID == "" || len(k.MD5) != 32 {
				t.Fatalf("decode accepted %+v %+v", k, r)
			}
		}
	})
}
