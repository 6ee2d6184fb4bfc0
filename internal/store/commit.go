package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Every bbolt commit costs two fdatasyncs and the writes of the
// pages it changed, whatever it holds, and most of the store's writes are
// tiny (an upload's record, a part's). update therefore commits the writes
// that arrive while a commit is running together, in the next one: a writer
// that finds no commit running commits at once (no added delay, unlike
// bolt.DB.Batch's timer), and one that finds a commit running waits for it
// and then joins the next. Each writer still gets its answer only after the
// commit that holds its changes has returned, so an acknowledged change is
// on disk exactly as with db.Update.

// txCall is one writer's function waiting to be committed.
type txCall struct {
	fn   func(*bolt.Tx) error
	done chan error // its result; errLead hands the commit over to it
}

// errLead tells a waiting writer that it now runs the next commit.
var errLead = errors.New("store: lead the next commit")

// update runs fn in a read-write transaction and commits it, possibly in the
// same bbolt transaction as other writers' functions. As with db.Update, fn's
// changes are kept only if it returns nil, and update returns once they are
// committed (fsynced). fn may be run more than once (when another function
// of its group fails, the group is run again without it): it must set, not
// accumulate, what it hands back to its caller.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	c := &txCall{fn: fn, done: make(chan error, 1)}
	s.commitMu.Lock()
	s.queued = append(s.queued, c)
	if s.committing {
		s.commitMu.Unlock()
		if err := <-c.done; err != errLead {
			return err
		}
		s.commitMu.Lock() // c leads now; committing stays true
	}
	s.committing = true
	group := s.queued
	s.queued = nil
	s.commitMu.Unlock()

	s.commitGroup(group)

	s.commitMu.Lock()
	if len(s.queued) > 0 {
		// The writers that came during this commit go in the next one,
		// run by the first of them: this one has its answer.
		s.queued[0].done <- errLead
	} else {
		s.committing = false
	}
	s.commitMu.Unlock()
	return <-c.done
}

// commitGroup runs the calls' functions in one transaction and commits it,
// then answers each call. A function that fails is taken out (the
// transaction is rolled back and the others run again without it) and then
// run alone, so that its error, and its changes (none), are its own.
func (s *Store) commitGroup(group []*txCall) {
	for len(group) > 0 {
		failed := -1
		err := safeCall(func(*bolt.Tx) error {
			// A panic of bbolt itself fails the group instead of leaving
			// its writers, and the writers after them, waiting forever.
			return s.db.Update(func(tx *bolt.Tx) error {
				for i, c := range group {
					if err := safeCall(c.fn, tx); err != nil {
						failed = i
						return err
					}
				}
				return nil
			})
		}, nil)
		if failed < 0 {
			for _, c := range group {
				c.done <- err // nil, or the commit's own failure
			}
			return
		}
		c := group[failed]
		group = append(group[:failed:failed], group[failed+1:]...)
		if len(group) == 0 {
			c.done <- err // it ran alone already
			return
		}
		c.done <- safeCall(func(*bolt.Tx) error {
			return s.db.Update(func(tx *bolt.Tx) error { return safeCall(c.fn, tx) })
		}, nil)
	}
}

// safeCall runs fn, turning a panic into an error, so that one writer's bug
// does not stop the commits of the others.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in a transaction: %v", p)
		}
	}()
	return fn(tx)
}
