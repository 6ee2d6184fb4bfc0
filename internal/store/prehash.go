package store

import (
	"bytes"
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"hash"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// prehash computes an upload's whole-file MD5 while its parts arrive, for
// clients that say where each part goes (its 1-based part number, an
// extension): parts are hashed in part-number order as soon as the ones
// before them are in, so that Complete only checks the chain and hashes
// what is left, instead of reading every byte again while the client waits.
// It is only an optimization: anything unexpected (a part number seen twice,
// a read error, a restart) leaves Complete to hash everything itself.
type prehash struct {
	mu      sync.Mutex
	idle    *sync.Cond
	next    int            // the part number to hash next
	waiting map[int]Part   // arrived, not yet hashed, by part number
	seen    map[int]string // part number → part id, every part that claimed one
	h       hash.Hash
	chain   []string // ids hashed, in order
	state   []byte   // h's state after the parts in chain (marshalled)
	busy    bool
	broken  bool
}

// prehashes holds the prehash of each pending upload, in memory only.
type prehashes struct {
	mu sync.Mutex
	m  map[string]*prehash
}

func (ps *prehashes) get(uploadID string, create bool) *prehash {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.m[uploadID]
	if p == nil && create {
		if ps.m == nil {
			ps.m = map[string]*prehash{}
		}
		p = &prehash{next: 1, waiting: map[int]Part{}, seen: map[int]string{}, h: md5.New()}
		p.idle = sync.NewCond(&p.mu)
		ps.m[uploadID] = p
	}
	return p
}

func (ps *prehashes) drop(uploadID string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.m, uploadID)
}

// add records an accepted part with its number and hashes what it can.
func (s *Store) prehashAdd(p Part, number int) {
	ph := s.pre.get(p.UploadID, true)
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if _, dup := ph.seen[number]; dup || ph.broken {
		ph.broken = true // two parts claim one place: the chain cannot be trusted
		return
	}
	ph.seen[number] = p.ID
	ph.waiting[number] = p
	if !ph.busy && number == ph.next {
		ph.busy = true
		go s.prehashRun(ph)
	}
}

// prehashRun hashes waiting parts in order until the next one is missing.
func (s *Store) prehashRun(ph *prehash) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	for !ph.broken {
		p, ok := ph.waiting[ph.next]
		if !ok {
			break
		}
		delete(ph.waiting, ph.next)
		ph.mu.Unlock()
		err := hashFile(ph.h, s.abs(p.Path))
		ph.mu.Lock()
		if err != nil {
			ph.broken = true
			break
		}
		state, err := ph.h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			ph.broken = true
			break
		}
		ph.chain = append(ph.chain, p.ID)
		ph.state = state
		ph.next++
	}
	ph.busy = false
	ph.idle.Broadcast()
}

// prehashed returns a copy of the MD5 state over the longest prefix of
// listed that the prehash has already hashed, and that prefix's length; 0
// when there is none to use.
func (s *Store) prehashed(uploadID string, listed []Part) (hash.Hash, int) {
	ph := s.pre.get(uploadID, false)
	if ph == nil {
		return nil, 0
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	for ph.busy {
		ph.idle.Wait() // it is hashing parts that are already here: let it finish
	}
	if ph.broken || len(ph.chain) == 0 || len(ph.chain) > len(listed) {
		return nil, 0
	}
	for i, id := range ph.chain {
		if listed[i].ID != id {
			return nil, 0
		}
	}
	state, err := ph.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, 0
	}
	h := md5.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, 0
	}
	return h, len(ph.chain)
}

// prehashedNow is prehashed without waiting: the state over the prefix of
// listed hashed so far (nil and 0 for none), after which the prehash stops
// (the parts left are checked another way; see verifyChain).
func (s *Store) prehashedNow(uploadID string, listed []Part) ([]byte, int) {
	ph := s.pre.get(uploadID, false)
	if ph == nil {
		return nil, 0
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	state, done := ph.state, len(ph.chain)
	broken := ph.broken
	ph.broken = true // stop hashing: this upload is being completed
	if broken || done == 0 || done > len(listed) {
		return nil, 0
	}
	for i, id := range ph.chain {
		if listed[i].ID != id {
			return nil, 0
		}
	}
	return state, done
}

// verifyChain checks a whole-file MD5 from the MD5 states the client says
// the file's hash passes through at the end of each listed part (the
// X-MD5-Chain extension): each part not yet hashed in order is hashed from
// the state before it, all of them at once, and must end in the state after
// it; the parts in order then add up to the last state, whose sum it
// returns. The chain proves nothing by itself: each link is recomputed from
// the stored bytes, so a wrong chain only means ok is false, and the caller
// computes the MD5 in order instead.
func (s *Store) verifyChain(uploadID string, parts []Part, chain [][]byte) (sum string, ok bool) {
	if len(chain) != len(parts) || len(parts) == 0 {
		return "", false
	}
	initial, _ := md5.New().(encoding.BinaryMarshaler).MarshalBinary()
	start, done := s.prehashedNow(uploadID, parts)
	if done > 0 && !bytes.Equal(start, chain[done-1]) {
		return "", false
	}
	var bad atomic.Bool
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for k := done; k < len(parts); k++ {
		from := initial
		if k > 0 {
			from = chain[k-1]
		}
		g.Go(func() error {
			h := md5.New()
			if bad.Load() || h.(encoding.BinaryUnmarshaler).UnmarshalBinary(from) != nil || hashFile(h, s.abs(parts[k].Path)) != nil {
				bad.Store(true)
				return nil
			}
			if got, err := h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil || !bytes.Equal(got, chain[k]) {
				bad.Store(true)
			}
			return nil
		})
	}
	_ = g.Wait()
	h := md5.New()
	if bad.Load() || h.(encoding.BinaryUnmarshaler).UnmarshalBinary(chain[len(chain)-1]) != nil {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// md5Of is the MD5 of the listed parts in order: from the client's chain of
// states where it holds, else continuing from the prehash where it covers a
// prefix of them.
func (s *Store) md5Of(uploadID string, parts []Part, chain [][]byte) (string, error) {
	if chain != nil {
		if sum, ok := s.verifyChain(uploadID, parts, chain); ok {
			return sum, nil
		}
	}
	h, done := s.prehashed(uploadID, parts)
	if h == nil {
		h = md5.New()
	}
	for _, p := range parts[done:] {
		if err := hashFile(h, s.abs(p.Path)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
