package seen

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileLines returns the lines of the index file in dir, which must end
// with a newline.
func fileLines(t testing.TB, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := strings.CutSuffix(string(data), "\n")
	if !ok {
		t.Fatalf("the index file does not end with a newline: %q", data)
	}
	return strings.Split(s, "\n")
}

func headerID(t *testing.T, dir string) string {
	t.Helper()
	var h header
	if err := json.Unmarshal([]byte(fileLines(t, dir)[0]), &h); err != nil || h.Version != SchemaVersion || h.ID == "" {
		t.Fatalf("header %+v, %v", h, err)
	}
	return h.ID
}

func record(t *testing.T, ix *Index, n int, id string, at time.Time) {
	t.Helper()
	if err := ix.Record(base, "batch", int64(n+1), sum(fmt.Sprint(n)), Record{FileID: id, UploadedAt: at}); err != nil {
		t.Fatal(err)
	}
}

func forget(t *testing.T, ix *Index, n int) {
	t.Helper()
	if err := ix.Forget(base, "batch", int64(n+1), sum(fmt.Sprint(n))); err != nil {
		t.Fatal(err)
	}
}

func lookup(ix *Index, n int) (string, bool) {
	r, ok := ix.Lookup(base, "batch", int64(n+1), sum(fmt.Sprint(n)))
	return r.FileID, ok
}

func noWarnings(t *testing.T, ixs ...*Index) {
	t.Helper()
	for _, ix := range ixs {
		if w := ix.Warnings(); len(w) != 0 {
			t.Fatalf("warnings: %v", w)
		}
	}
}

// TestTornLastLine simulates a crash in the middle of an append: readers
// ignore the partial line, and the next change cuts it off, says so once,
// and appends after it.
func TestTornLastLine(t *testing.T) {
	for name, cut := range map[string]func(line []byte) []byte{
		"half a line":     func(l []byte) []byte { return l[:len(l)/2] },
		"all but newline": func(l []byte) []byte { return l[:len(l)-1] },
		"one byte":        func(l []byte) []byte { return l[:1] },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			ix := open(t, dir)
			for n := range 3 {
				record(t, ix, n, fmt.Sprintf("file_%d", n), time.Time{})
			}
			k, _ := makeKey(base, "batch", 100, sum("99"))
			torn, _ := encodeLine(k, &Record{FileID: "file_torn", UploadedAt: time.Now().UTC()})
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(cut(torn)); err != nil {
				t.Fatal(err)
			}
			f.Close()

			other := open(t, dir)
			for _, x := range []*Index{ix, other} {
				for n := range 3 {
					if id, ok := lookup(x, n); !ok || id != fmt.Sprintf("file_%d", n) {
						t.Fatalf("record %d: %q, %v", n, id, ok)
					}
				}
				if id, ok := lookup(x, 99); ok {
					t.Fatalf("the torn line was read: %q", id)
				}
			}
			noWarnings(t, ix, other)

			record(t, other, 3, "file_3", time.Time{})
			w := other.Warnings()
			if len(w) != 1 || !strings.Contains(w[0].Error(), "partly written line") || !strings.Contains(w[0].Error(), path) {
				t.Fatalf("warnings = %v; want one about the partly written line", w)
			}
			record(t, other, 4, "file_4", time.Time{})
			record(t, ix, 5, "file_5", time.Time{})
			noWarnings(t, ix, other)

			final := open(t, dir)
			for n := range 6 {
				if id, ok := lookup(final, n); !ok || id != fmt.Sprintf("file_%d", n) {
					t.Fatalf("record %d after the repair: %q, %v", n, id, ok)
				}
			}
			if lines := fileLines(t, dir); len(lines) != 7 {
				t.Fatalf("the file holds %d lines, want a header and 6 records:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			noWarnings(t, final)
		})
	}
}

// TestCompaction checks the rewrite of a log past 2 × max lines: the newest
// max live records, oldest first, no tombstone, a new header.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	ix.max = 5
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{3, 0, 7, 5, 1, 6, 2, 4} {
		record(t, ix, n, fmt.Sprintf("file_%d", n), t0.Add(time.Duration(n)*time.Minute))
	}
	forget(t, ix, 6)
	forget(t, ix, 7) // the newest two: the rewrite must not bring them back
	forget(t, ix, 9) // not there: no line
	id := headerID(t, dir)
	if lines := fileLines(t, dir); len(lines) != 11 || strings.Count(strings.Join(lines, "\n"), `"forget":true`) != 2 {
		t.Fatalf("before the rewrite the file holds %d lines, want 11 with 2 tombstones:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	record(t, ix, 8, "file_8", t0.Add(8*time.Minute)) // the 11th line
	lines := fileLines(t, dir)
	if len(lines) != 6 || headerID(t, dir) == id {
		t.Fatalf("after the rewrite the file holds %d lines (want 6) and the header id %q (want a new one)", len(lines), headerID(t, dir))
	}
	for i, n := range []int{2, 3, 4, 5, 8} {
		if !strings.Contains(lines[i+1], fmt.Sprintf(`"file_id":"file_%d"`, n)) {
			t.Fatalf("line %d is %s; want file_%d (the newest 5, oldest first)", i+2, lines[i+1], n)
		}
	}
	for _, x := range []*Index{ix, open(t, dir)} {
		for n := range 10 {
			if _, ok := lookup(x, n); ok != (n >= 2 && n <= 5 || n == 8) {
				t.Fatalf("record %d kept: %v", n, ok)
			}
		}
	}
	noWarnings(t, ix)
}

// TestCompactionOfTombstones checks that a log made mostly of tombstones is
// rewritten before it reaches 2 × max lines.
func TestCompactionOfTombstones(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	ix.max = 40
	for n := range 20 {
		record(t, ix, n, fmt.Sprintf("file_%d", n), time.Time{})
	}
	for n := range 20 {
		forget(t, ix, n)
	}
	if lines := fileLines(t, dir); len(lines) > 11 {
		t.Fatalf("after 40 changes the file holds %d lines; want it rewritten on the way", len(lines))
	}
	again := open(t, dir)
	for n := range 20 {
		if id, ok := lookup(again, n); ok {
			t.Fatalf("record %d forgotten, then found: %s", n, id)
		}
	}
	noWarnings(t, ix, again)
}

// TestOtherIndexReadsAppendsThenRewrites checks that an Index reads only
// what another process appended, and all of a file it rewrote.
func TestOtherIndexReadsAppendsThenRewrites(t *testing.T) {
	dir := t.TempDir()
	a, b := open(t, dir), open(t, dir)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	record(t, a, 1, "file_1", t0.Add(1*time.Minute))
	if id, ok := lookup(b, 1); !ok || id != "file_1" {
		t.Fatalf("b: %q, %v", id, ok)
	}
	// Spoil the line b has read, keeping its length: b and a must not read
	// it again, only what comes after it.
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(string(data), `"md5":"`) + len(`"md5":"`)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("z"), int64(at)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	record(t, a, 2, "file_2", t0.Add(2*time.Minute))
	for _, x := range []*Index{a, b} {
		for n := 1; n <= 2; n++ {
			if id, ok := lookup(x, n); !ok || id != fmt.Sprintf("file_%d", n) {
				t.Fatalf("record %d: %q, %v", n, id, ok)
			}
		}
	}
	noWarnings(t, a, b)
	// a rewrites the file (in a new file) with the newest record only.
	a.max = 1
	record(t, a, 3, "file_3", t0.Add(3*time.Minute))
	if lines := fileLines(t, dir); len(lines) != 2 {
		t.Fatalf("the rewritten file holds %d lines", len(lines))
	}
	for n := 1; n <= 3; n++ {
		if _, ok := lookup(b, n); ok != (n == 3) {
			t.Fatalf("b after the rewrite: record %d found: %v", n, ok)
		}
	}
	// And b appends to the new file.
	record(t, b, 4, "file_4", t0.Add(4*time.Minute))
	for _, n := range []int{3, 4} {
		if _, ok := lookup(a, n); !ok {
			t.Fatalf("a: record %d not found", n)
		}
	}
	noWarnings(t, a, b)
}

// TestConcurrentWritersCompacting records and forgets from goroutines on
// two Indexes of one directory (two processes) while the log is rewritten
// again and again: nothing is lost, nothing forgotten comes back, and each
// writer finds what it has just written.
func TestConcurrentWritersCompacting(t *testing.T) {
	dir := t.TempDir()
	const procs, goroutines, keys, rounds = 2, 3, 8, 5
	var ixs [procs]*Index
	for p := range ixs {
		ixs[p] = open(t, dir)
		ixs[p].max = procs * goroutines * keys // all live records fit; the log of 240 lines does not
	}
	n := func(p, g, i int) int { return (p*goroutines+g)*keys + i }
	var wg sync.WaitGroup
	errs := make(chan error, procs*goroutines)
	for p := range procs {
		for g := range goroutines {
			wg.Go(func() {
				ix := ixs[p]
				for r := range rounds {
					for i := range keys {
						k := n(p, g, i)
						want := fmt.Sprintf("file_%d_r%d", k, r)
						if err := ix.Record(base, "batch", int64(k+1), sum(fmt.Sprint(k)), Record{FileID: want}); err != nil {
							errs <- err
							return
						}
						if id, ok := lookup(ix, k); !ok || id != want {
							errs <- fmt.Errorf("record %d just written: %q, %v", k, id, ok)
							return
						}
						lookup(ixs[1-p], k) // the other process reads meanwhile
					}
				}
				for i := 0; i < keys; i += 3 {
					if err := ix.Forget(base, "batch", int64(n(p, g, i)+1), sum(fmt.Sprint(n(p, g, i)))); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final := open(t, dir)
	for _, x := range []*Index{final, ixs[0], ixs[1]} {
		for p := range procs {
			for g := range goroutines {
				for i := range keys {
					k := n(p, g, i)
					id, ok := lookup(x, k)
					if i%3 == 0 {
						if ok {
							t.Fatalf("record %d forgotten, then found: %s", k, id)
						}
					} else if want := fmt.Sprintf("file_%d_r%d", k, rounds-1); !ok || id != want {
						t.Fatalf("record %d: %q, %v; want %s", k, id, ok, want)
					}
				}
			}
		}
	}
	if lines := fileLines(t, dir); len(lines) > 2*ixs[0].max+1 {
		t.Fatalf("the log holds %d lines: it was not rewritten", len(lines))
	}
	noWarnings(t, final, ixs[0], ixs[1])
}

// filled opens an index in dir holding n records, written at once.
func filled(tb testing.TB, dir string, n int) *Index {
	tb.Helper()
	ix, err := Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		k, _ := makeKey(base, "batch", int64(i), sum(fmt.Sprint(i)))
		ix.v.records[k] = Record{FileID: fmt.Sprintf("file-%024x", i), Filename: "data.jsonl", UploadedAt: t0.Add(time.Duration(i) * time.Second), Path: "/srv/data/part/data.jsonl"}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.rewriteLocked(); err != nil {
		tb.Fatal(err)
	}
	return ix
}

// BenchmarkRecord is one Record on an index of 0, 1,000 and 10,000
// records. It records one of 100 contents in turn, so that the index keeps
// its size (and the figures compare with schema 1, whose cost grew with it).
func BenchmarkRecord(b *testing.B) {
	for _, n := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("existing=%d", n), func(b *testing.B) {
			ix := filled(b, b.TempDir(), n)
			i := 0
			for b.Loop() {
				h := fmt.Sprint("new-", i%100)
				if err := ix.Record(base, "batch", 7, sum(h), Record{FileID: fmt.Sprintf("file-new-%d", i), Filename: "new.jsonl", Path: "/srv/data/new.jsonl"}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkCompact is the rewrite of a log that reached 2 × MaxRecords
// lines, all of them live: the newest MaxRecords are kept. It comes at most
// once every MaxRecords + 1 changes.
func BenchmarkCompact(b *testing.B) {
	ix := filled(b, b.TempDir(), 0)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := map[key]Record{}
	for i := range 2*MaxRecords + 1 {
		k, _ := makeKey(base, "batch", int64(i), sum(fmt.Sprint(i)))
		all[k] = Record{FileID: fmt.Sprintf("file-%024x", i), Filename: "data.jsonl", UploadedAt: t0.Add(time.Duration(i) * time.Second), Path: "/srv/data/part/data.jsonl"}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for range b.N {
		b.StopTimer()
		ix.v.records = maps.Clone(all)
		b.StartTimer()
		if err := ix.rewriteLocked(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEmptyFile: an empty file (created by hand, say) is an empty index, and
// the first change writes it whole.
func TestEmptyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ix := open(t, dir)
	record(t, ix, 1, "file_1", time.Time{})
	if id, ok := lookup(open(t, dir), 1); !ok || id != "file_1" {
		t.Fatalf("%q, %v", id, ok)
	}
	headerID(t, dir)
	noWarnings(t, ix)
}

// BenchmarkOpen is the first read of an index of MaxRecords records.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	filled(b, dir, MaxRecords)
	for b.Loop() {
		if _, err := Open(dir); err != nil {
			b.Fatal(err)
		}
	}
}
