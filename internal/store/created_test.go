package store

import (
	"bytes"
	"testing"
	"time"
)

// A file records its creation to the nanosecond, durably; a record from
// before CreatedNano falls back to the second.
func TestFileCreatedToTheNanosecond(t *testing.T) {
	dir := t.TempDir()
	at := time.Unix(1700000000, 123456789)
	s, err := Open(dir, Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	posted, err := s.CreateFile(NewFile{Org: "o", Filename: "a", Purpose: "batch"}, bytes.NewReader([]byte("x")), 10)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(NewUpload{Org: "o", Filename: "b", Purpose: "batch", Bytes: 1, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p := addParts(t, s, u, [][]byte{[]byte("y")})
	_, completed, err := s.Complete("o", u.ID, []string{p[0].ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{posted.ID, completed.ID} {
		f, err := s.GetFile("o", id)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Created().Equal(at) || f.CreatedAt != at.Unix() {
			t.Errorf("%s: created %v (%d), want %v", id, f.Created(), f.CreatedAt, at)
		}
	}
	if old := (File{CreatedAt: 1700000000}); !old.Created().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("a record without created_ns: Created() = %v", old.Created())
	}
}
