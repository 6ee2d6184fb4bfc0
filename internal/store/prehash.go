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
		state, err := marshalMD5(ph.h)
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

// prefix returns the MD5 state over the longest prefix of listed that ph
// has hashed, and that prefix's length; nil and 0 when there is none to use.
// ph.mu must be held.
func (ph *prehash) prefix(listed []Part) ([]byte, int) {
	if ph.broken || len(ph.chain) == 0 || len(ph.chain) > len(listed) {
		return nil, 0
	}
	for i, id := range ph.chain {
		if listed[i].ID != id {
			return nil, 0
		}
	}
	return ph.state, len(ph.chain)
}

// prehashed is the prehash's prefix of listed (see prefix), once it has
// hashed the parts that are already here.
func (s *Store) prehashed(uploadID string, listed []Part) ([]byte, int) {
	ph := s.pre.get(uploadID, false)
	if ph == nil {
		return nil, 0
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	for ph.busy {
		ph.idle.Wait() // it is hashing parts that are already here: let it finish
	}
	return ph.prefix(listed)
}

// prehashedNow is the prehash's prefix of listed as it stands, without
// waiting; the prehash then stops (the parts left are checked another way:
// see verifyChain).
func (s *Store) prehashedNow(uploadID string, listed []Part) ([]byte, int) {
	ph := s.pre.get(uploadID, false)
	if ph == nil {
		return nil, 0
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	state, done := ph.prefix(listed)
	ph.broken = true // this upload is being completed
	return state, done
}

// marshalMD5 is h's state; resumeMD5 is an MD5 that goes on from state.
func marshalMD5(h hash.Hash) ([]byte, error) { return h.(encoding.BinaryMarshaler).MarshalBinary() }

func resumeMD5(state []byte) (hash.Hash, error) {
	h := md5.New()
	return h, h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
}

// verifyChain checks a whole-file MD5 from the MD5 states the client says
// the file's hash passes through at the end of each listed part (the
// X-MD5-Chain extension), given the state after the first done parts: each
// later part is hashed from the state before it, all of them at once, and
// must end in the state after it; the parts in order then add up to the last
// state, whose sum it returns. The chain proves nothing by itself: each link
// is recomputed from the stored bytes, so a wrong chain only means ok is
// false, and the caller computes the MD5 in order instead.
func (s *Store) verifyChain(parts []Part, chain [][]byte, start []byte, done int) (sum string, ok bool) {
	if len(chain) != len(parts) || len(parts) == 0 || (done > 0 && !bytes.Equal(start, chain[done-1])) {
		return "", false
	}
	initial, _ := marshalMD5(md5.New())
	var bad atomic.Bool
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for k := done; k < len(parts); k++ {
		from := initial
		if k > 0 {
			from = chain[k-1]
		}
		g.Go(func() error {
			if bad.Load() {
				return nil
			}
			h, err := resumeMD5(from)
			if err == nil {
				err = hashFile(h, s.abs(parts[k].Path))
			}
			var got []byte
			if err == nil {
				got, err = marshalMD5(h)
			}
			if err != nil || !bytes.Equal(got, chain[k]) {
				bad.Store(true)
			}
			return nil
		})
	}
	_ = g.Wait()
	last, err := resumeMD5(chain[len(chain)-1])
	if bad.Load() || err != nil {
		return "", false
	}
	return hex.EncodeToString(last.Sum(nil)), true
}

// md5Of is the MD5 of the listed parts in order: it goes on from the state
// over the prefix the prehash has covered, then checks the rest from the
// client's chain of states where one is given and holds, else hashes the
// rest in order.
func (s *Store) md5Of(uploadID string, parts []Part, chain [][]byte) (string, error) {
	var start []byte
	var done int
	if chain != nil {
		start, done = s.prehashedNow(uploadID, parts)
		if sum, ok := s.verifyChain(parts, chain, start, done); ok {
			return sum, nil
		}
	} else {
		start, done = s.prehashed(uploadID, parts)
	}
	h := md5.New()
	if done > 0 {
		var err error
		if h, err = resumeMD5(start); err != nil {
			return "", err
		}
	}
	for _, p := range parts[done:] {
		if err := hashFile(h, s.abs(p.Path)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
