package store

import (
	"bytes"
	"crypto/md5"
	"encoding"
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

// addParts adds the chunks with the given part numbers (0: none) and returns
// their records in chunk order.
func addParts(t *testing.T, s *Store, u Upload, chunks [][]byte, numbers []int) []Part {
	t.Helper()
	var out []Part
	for i, c := range chunks {
		p, err := s.AddPart("o", u.ID, bytes.NewReader(c), 1<<20, 1<<30, numbers[i])
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

func TestPrehashCoversNumberedParts(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	// Out of order arrival: 2, 3, then 1.
	got := addParts(t, s, u, [][]byte{chunks[1], chunks[2], chunks[0]}, []int{2, 3, 1})
	listed := []Part{got[2], got[0], got[1]}
	h, done := s.prehashed(u.ID, listed)
	if h == nil || done != 3 {
		t.Fatalf("prehash covers %d of 3 parts, want all", done)
	}
	if _, _, err := s.Complete("o", u.ID, ids(listed), sum(chunks...), nil); err != nil {
		t.Fatalf("complete with the prehashed MD5: %v", err)
	}
}

func TestPrehashFallsBackWhenTheOrderDiffers(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	p := addParts(t, s, u, chunks, []int{1, 2, 3})
	// The client lists another order than it numbered: the MD5 must be of the listed order.
	listed := []string{p[1].ID, p[0].ID, p[2].ID}
	if _, _, err := s.Complete("o", u.ID, listed, sum(chunks[0], chunks[1], chunks[2]), nil); !IsKind(err, KindInvalid) {
		t.Fatalf("the MD5 of the numbered order was accepted for another listed order: %v", err)
	}
	if _, _, err := s.Complete("o", u.ID, listed, sum(chunks[1], chunks[0], chunks[2]), nil); err != nil {
		t.Fatalf("the MD5 of the listed order: %v", err)
	}
}

func TestPrehashDuplicateNumberIsNotTrusted(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	p := addParts(t, s, u, [][]byte{chunks[0], chunks[0], chunks[1], chunks[2]}, []int{1, 1, 2, 3})
	if h, _ := s.prehashed(u.ID, []Part{p[1], p[2], p[3]}); h != nil {
		t.Fatal("a prehash with two parts numbered 1 was used")
	}
	if _, _, err := s.Complete("o", u.ID, []string{p[1].ID, p[2].ID, p[3].ID}, sum(chunks...), nil); err != nil {
		t.Fatal(err)
	}
}

func TestPrehashWrongMD5IsRefused(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	p := addParts(t, s, u, chunks, []int{1, 2, 3})
	if _, _, err := s.Complete("o", u.ID, ids(p), sum(chunks[0]), nil); !IsKind(err, KindInvalid) {
		t.Fatalf("a wrong MD5 was accepted: %v", err)
	}
	// Unnumbered parts take the full pass and agree.
	u2 := newUpload(t, s, 3500)
	p2 := addParts(t, s, u2, chunks, []int{0, 0, 0})
	if _, _, err := s.Complete("o", u2.ID, ids(p2), sum(chunks...), nil); err != nil {
		t.Fatal(err)
	}
}

// chainOf is what a client sends as X-MD5-Chain: the MD5 state after each
// chunk.
func chainOf(t *testing.T, chunks ...[]byte) [][]byte {
	t.Helper()
	h := md5.New()
	var out [][]byte
	for _, c := range chunks {
		h.Write(c)
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// A true chain is checked part by part, at once, with or without the
// in-order hash having started; a chain with a wrong link is refused (and
// Complete then hashes in order, so that the MD5 check still gives the right
// answer).
func TestVerifyChain(t *testing.T) {
	for _, numbered := range []bool{false, true} {
		s := newTestStore(t)
		u := newUpload(t, s, 3500)
		numbers := []int{0, 0, 0}
		if numbered {
			numbers = []int{1, 2, 3}
		}
		p := addParts(t, s, u, chunks, numbers)
		chain := chainOf(t, chunks...)
		verify := func(chain [][]byte) (string, bool) {
			start, done := s.prehashedNow(u.ID, p)
			return s.verifyChain(p, chain, start, done)
		}
		if got, ok := verify(chain); !ok || got != sum(chunks...) {
			t.Fatalf("numbered %v: true chain: %q, %v", numbered, got, ok)
		}
		bad := chainOf(t, chunks[0], []byte("not the bytes stored"), chunks[2])
		if _, ok := verify(bad); ok {
			t.Fatalf("numbered %v: a chain with a wrong link was accepted", numbered)
		}
		if _, ok := verify(chain[:2]); ok {
			t.Fatalf("numbered %v: a chain of the wrong length was accepted", numbered)
		}
		garbage := [][]byte{[]byte("x"), chain[1], chain[2]}
		if _, ok := verify(garbage); ok {
			t.Fatalf("numbered %v: a chain with an unreadable state was accepted", numbered)
		}
	}
}

// Through Complete: a wrong chain never changes the outcome of the MD5 check.
func TestCompleteWithChain(t *testing.T) {
	s := newTestStore(t)
	u := newUpload(t, s, 3500)
	p := addParts(t, s, u, chunks, []int{1, 2, 3})
	lying := chainOf(t, []byte("x"), []byte("y"), []byte("z"))
	// A chain for other bytes, claiming their MD5: refused.
	h := md5.New()
	h.Write([]byte("xyz"))
	if _, _, err := s.Complete("o", u.ID, ids(p), hex.EncodeToString(h.Sum(nil)), lying); !IsKind(err, KindInvalid) {
		t.Fatalf("the MD5 of a made-up chain was accepted: %v", err)
	}
	// A wrong chain with the right MD5: accepted (checked in order).
	if _, _, err := s.Complete("o", u.ID, ids(p), sum(chunks...), lying); err != nil {
		t.Fatalf("the right MD5 with a wrong chain: %v", err)
	}
	u2 := newUpload(t, s, 3500)
	p2 := addParts(t, s, u2, chunks, []int{0, 0, 0})
	if _, _, err := s.Complete("o", u2.ID, ids(p2), sum(chunks...), chainOf(t, chunks...)); err != nil {
		t.Fatalf("the right MD5 with its chain: %v", err)
	}
}
