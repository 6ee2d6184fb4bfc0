package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// Lock is held by the one process working on a journal entry.
type Lock struct{ fl *flock.Flock }

// LockedError says another process holds the lock of a journal entry.
type LockedError struct {
	Path string
	PID  int // 0 when unknown
}

func (e *LockedError) Error() string {
	who := "another uploads process"
	if e.PID > 0 {
		who = fmt.Sprintf("another uploads process (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is uploading this file to the same purpose and server (lock %s)", who, e.Path)
}

// lockAttempts bounds Lock's retries on a lock file replaced under it:
// each retry means another process took and released the lock meanwhile.
const lockAttempts = 100

// Lock takes the lock of key's entry without waiting: a *LockedError if
// another process has it. Taking it also checks that the directory exists
// and takes new files, before any session is created. The lock file holds
// the holder's pid, for the message of a process that finds it taken;
// Unlock removes it, so that a finished upload leaves nothing behind.
//
// Removing a flock'd file has a classic race: B opens the file, A unlinks
// it and unlocks, B locks the unlinked file while C creates a new one at
// the path and locks that: both "hold" the lock. So a lock counts only if
// the file locked is still the one at the path (the same inode: fstat of
// the descriptor against stat of the path); else Lock lets it go and
// starts again.
func (s *Store) Lock(key string) (*Lock, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	path := filepath.Join(s.Dir, key+".lock")
	for range lockAttempts {
		fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock the resume journal in %s: %w", s.Dir, err)
		}
		if !ok {
			le := &LockedError{Path: path}
			if b, err := os.ReadFile(path); err == nil {
				le.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			return nil, le
		}
		if !lockedAtPath(fl, path) {
			_ = fl.Unlock()
			continue
		}
		// The pid is for the message of a process that finds the lock taken;
		// where it cannot be written (a full disk, Windows' mandatory locks) the
		// message has none.
		_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
		return &Lock{fl: fl}, nil
	}
	return nil, fmt.Errorf("lock the resume journal in %s: %s was replaced %d times while being locked", s.Dir, path, lockAttempts)
}

// lockedAtPath reports whether the file fl has locked is the one at path.
func lockedAtPath(fl *flock.Flock, path string) bool {
	held, err := fl.Stat() // the open descriptor's
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}

// Unlock releases the lock and removes the lock file; calling it on nil,
// or again, does nothing.
//
// The file is removed while it is still locked: a process that opened it
// meanwhile finds, once it has the lock, that the path no longer names
// it, and starts again (see Lock). Where an open file cannot be removed
// (Windows), it is removed once released, which succeeds only if no other
// process has it open.
func (l *Lock) Unlock() error {
	if l == nil || !l.fl.Locked() {
		return nil
	}
	rmErr := os.Remove(l.fl.Path())
	err := l.fl.Unlock()
	if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		_ = os.Remove(l.fl.Path())
	}
	return err
}

// IsLocked reports whether err is a *LockedError.
func IsLocked(err error) bool {
	var le *LockedError
	return errors.As(err, &le)
}
