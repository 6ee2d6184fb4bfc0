package journal

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() *Journal {
	fp := Fingerprint{Path: "/data/clip.mp4", Size: 150, ModTime: 1, Purpose: "video", BaseURL: "http://127.0.0.1:1/v1"}
	j := &Journal{Version: SchemaVersion, Fingerprint: fp, PartSize: 64, UploadID: "upload_1", Filename: "clip.mp4", MimeType: "video/mp4",
		ExpiresAt: time.Now().Add(time.Hour).Unix(), Parts: Plan(150, 64)}
	j.Parts[0].ID, j.Parts[0].MD5State = "part_a", []byte("md5 state")
	return j
}

func TestPlan(t *testing.T) {
	p := Plan(150, 64)
	if len(p) != 3 || p[2].Offset != 128 || p[2].Length != 22 {
		t.Fatalf("Plan = %+v", p)
	}
	if p := Plan(128, 64); len(p) != 2 || p[1].Length != 64 {
		t.Fatalf("Plan(128, 64) = %+v", p)
	}
}

func TestKeyCoversTheFingerprint(t *testing.T) {
	base := sample().Fingerprint
	seen := map[string]bool{base.Key(): true}
	for _, change := range []func(*Fingerprint){
		func(f *Fingerprint) { f.Path += "x" }, func(f *Fingerprint) { f.Size++ }, func(f *Fingerprint) { f.ModTime++ },
		func(f *Fingerprint) { f.Purpose = "batch" }, func(f *Fingerprint) { f.BaseURL += "2" },
	} {
		f := base
		change(&f)
		if seen[f.Key()] {
			t.Fatalf("a changed fingerprint %+v has a key already seen", f)
		}
		seen[f.Key()] = true
	}
	slash := base
	slash.BaseURL += "/"
	if slash.Key() != base.Key() {
		t.Fatal("a trailing slash on the base URL changes the key")
	}
}

func TestSaveLoadRemove(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "journals")}
	j := sample()
	if err := s.Save(j); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.Path(j.Key()))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("journal file: %v, mode %v; want 0600", err, st.Mode())
	}
	got, err := s.Load(j.Key())
	if err != nil || got.UploadID != "upload_1" || got.Parts[0].ID != "part_a" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if n, b := got.Acked(); n != 1 || b != 64 {
		t.Fatalf("Acked = %d, %d", n, b)
	}
	entries, err := s.List()
	if err != nil || len(entries) != 1 || entries[0].Journal == nil {
		t.Fatalf("List = %+v, %v", entries, err)
	}
	if err := s.Remove(j.Key()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(j.Key()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after Remove = %v", err)
	}
	if err := s.Remove(j.Key()); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	// No temporary files are left behind.
	if left, _ := filepath.Glob(filepath.Join(s.Dir, ".*.tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestLoadRefusesBadJournals(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	good := sample()
	key := good.Key()
	enc := func(mut func(*Journal)) []byte {
		j := sample()
		mut(j)
		b, _ := json.Marshal(j)
		return b
	}
	cases := map[string][]byte{
		"truncated":     []byte(`{"version":2,"upload_id":`),
		"not json":      []byte("hello"),
		"older schema":  enc(func(j *Journal) { j.Version = 1 }),
		"newer schema":  enc(func(j *Journal) { j.Version = 3 }),
		"no upload id":  enc(func(j *Journal) { j.UploadID = "" }),
		"no part size":  enc(func(j *Journal) { j.PartSize = 0 }),
		"gap in parts":  enc(func(j *Journal) { j.Parts[1].Offset = 65 }),
		"short of size": enc(func(j *Journal) { j.Parts = j.Parts[:2] }),
		"part too long": enc(func(j *Journal) { j.PartSize = 32 }),
		"md5 past end":  enc(func(j *Journal) { j.MD5Offset = 151; j.MD5State = []byte{1} }),
		"unknown field": []byte(strings.Replace(string(enc(func(*Journal) {})), `{`, `{"extra":1,`, 1)),
		"other file":    enc(func(j *Journal) { j.Fingerprint.Path = "/elsewhere" }),
	}
	for name, data := range cases {
		if err := os.WriteFile(s.Path(key), data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(key)
		var ce *CorruptError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "uploads journal rm") {
			t.Errorf("%s: Load = %v, want a CorruptError that says how to clear it", name, err)
		}
	}
}

// FuzzDecode: any bytes give a journal or an error, never a panic, and an
// accepted journal is consistent (its parts tile the file).
func FuzzDecode(f *testing.F) {
	b, _ := json.Marshal(sample())
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":2,"fingerprint":{"path":"/a","size":1},"part_size":1,"upload_id":"u","parts":[{"offset":0,"length":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Decode(data)
		if err != nil {
			return
		}
		var next int64
		for _, p := range j.Parts {
			if p.Offset != next || p.Length <= 0 {
				t.Fatalf("accepted a journal whose parts do not tile the file: %+v", j.Parts)
			}
			next += p.Length
		}
		if next != j.Fingerprint.Size {
			t.Fatalf("accepted parts covering %d of %d bytes", next, j.Fingerprint.Size)
		}
	})
}

// One process at a time holds an entry's lock; another is refused at once
// with the holder's pid, and gets it once it is released.
func TestLock(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "journals")}
	key := sample().Key()
	l, err := s.Lock(key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock(key)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !IsLocked(err) {
		t.Fatalf("second Lock = %v, want a LockedError with pid %d", err, os.Getpid())
	}
	other, err := s.Lock(sample().Key() + "x")
	if err != nil {
		t.Fatalf("another key is not locked: %v", err)
	}
	_ = other.Unlock()
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := s.Lock(key)
	if err != nil {
		t.Fatalf("Lock after Unlock = %v", err)
	}
	_ = l2.Unlock()
	if entries, err := s.List(); err != nil || len(entries) != 0 {
		t.Fatalf("lock files are listed as journals: %v %v", entries, err)
	}
}

// A directory that cannot hold the lock file fails the lock, before any
// session would be created.
func TestLockNeedsAWritableDirectory(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(blocked, nil, 0o600)
	if _, err := (&Store{Dir: filepath.Join(blocked, "journals")}).Lock("k"); err == nil {
		t.Fatal("Lock in a directory under a file succeeded")
	}
}

// The journals of one file (any version) are found by their key's first
// part, without reading the others.
func TestListFile(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	a := sample()
	b := sample()
	b.Fingerprint.Size, b.Fingerprint.ModTime = 151, 2
	b.Parts = Plan(151, 64)
	other := sample()
	other.Fingerprint.Path = "/data/other.mp4"
	for _, j := range []*Journal{a, b, other} {
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.Key()) != 32 || a.Key()[:12] != b.Key()[:12] || a.Key() == b.Key() || a.Key()[:12] == other.Key()[:12] {
		t.Fatalf("keys %s %s %s", a.Key(), b.Key(), other.Key())
	}
	got, err := s.ListFile(a.Fingerprint)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListFile = %d entries, %v; want the 2 of clip.mp4", len(got), err)
	}
	for _, e := range got {
		if e.Journal == nil || e.Journal.Fingerprint.Path != "/data/clip.mp4" {
			t.Fatalf("ListFile returned %+v", e)
		}
	}
}

// ListFile lists the directory once, then follows the Store's own Save and
// Remove: journals saved since are found, removed ones are not, and one
// removed by another process is left out.
func TestListFileFollowsSaveAndRemove(t *testing.T) {
	dir := t.TempDir()
	a := sample()
	if err := (&Store{Dir: dir}).Save(a); err != nil { // before the listing, by another process
		t.Fatal(err)
	}
	s := &Store{Dir: dir}
	keys := func() map[string]bool {
		t.Helper()
		got, err := s.ListFile(a.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, e := range got {
			m[e.Key] = true
		}
		return m
	}
	if k := keys(); len(k) != 1 || !k[a.Key()] {
		t.Fatalf("ListFile = %v, want the journal saved before", k)
	}
	b := sample()
	b.Fingerprint.Size, b.Fingerprint.ModTime = 151, 2
	b.Parts = Plan(151, 64)
	if err := s.Save(b); err != nil {
		t.Fatal(err)
	}
	if k := keys(); len(k) != 2 || !k[b.Key()] {
		t.Fatalf("ListFile after Save = %v, want both", k)
	}
	if err := s.Remove(b.Key()); err != nil {
		t.Fatal(err)
	}
	if k := keys(); len(k) != 1 || k[b.Key()] {
		t.Fatalf("ListFile after Remove = %v, want a's alone", k)
	}
	if err := (&Store{Dir: dir}).Remove(a.Key()); err != nil {
		t.Fatal(err)
	}
	if k := keys(); len(k) != 0 {
		t.Fatalf("ListFile after another process removed a = %v, want none", k)
	}
	if got, err := (&Store{Dir: filepath.Join(dir, "missing")}).ListFile(a.Fingerprint); err != nil || len(got) != 0 {
		t.Fatalf("ListFile of a missing directory = %v, %v", got, err)
	}
}
