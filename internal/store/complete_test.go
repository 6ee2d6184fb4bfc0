package store

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"testing"
	"time"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sum(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// addParts adds the chunks in order and returns their records.
func addParts(t *testing.T, s *Store, u Upload, chunks [][]byte) []Part {
	t.Helper()
	var out []Part
	for _, c := range chunks {
		p, err := s.AddPart("o", u.ID, bytes.NewReader(c), 1<<20, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func newUpload(t *testing.T, s *Store, size int64) Upload {
	t.Helper()
	u, err := s.CreateUpload(NewUpload{Org: "o", Filename: "f", Purpose: "video", MimeType: "video/mp4", Bytes: size, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ids(parts []Part) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p.ID)
	}
	return out
}

var chunks = [][]byte{bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 2000), bytes.Repeat([]byte("c"), 500)}

// The MD5 is of the parts in the listed order, not in the order they arrived.
func TestCompleteChecksTheMD5OfTheListedOrder(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	p := addParts(t, s, u, chunks)
	listed := []string{p[1].ID, p[0].ID, p[2].ID}
	if _, _, err := s.Complete("o", u.ID, listed, sum(chunks...)); !IsKind(err, KindInvalid) {
		t.Fatalf("the MD5 of the arrival order was accepted for another listed order: %v", err)
	}
	if got, err := s.GetUpload("o", u.ID); err != nil || got.Status != StatusPending {
		t.Fatalf("after a refused MD5: %+v, %v; want the upload still pending", got, err)
	}
	_, f, err := s.Complete("o", u.ID, listed, sum(chunks[1], chunks[0], chunks[2]))
	if err != nil {
		t.Fatalf("the MD5 of the listed order: %v", err)
	}
	if len(f.Extents) != 3 || f.Extents[0].Path != p[1].Path || f.Bytes != 3500 {
		t.Fatalf("file = %+v, want the 3 parts in the listed order", f)
	}
}

func TestCompleteRefusesAWrongMD5(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	p := addParts(t, s, u, chunks)
	if _, _, err := s.Complete("o", u.ID, ids(p), sum(chunks[0])); !IsKind(err, KindInvalid) {
		t.Fatalf("a wrong MD5 was accepted: %v", err)
	}
	if _, _, err := s.Complete("o", u.ID, ids(p), sum(chunks...)); err != nil {
		t.Fatal(err)
	}
}
