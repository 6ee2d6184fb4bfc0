package journal

import (
	"errors"
	"fmt"
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

// Lock takes the lock of key's entry without waiting: a *LockedError if
// another process has it. Taking it also checks that the directory exists
// and takes new files, before any session is created. The lock file stays (a few
// bytes: the holder's pid); Unlock releases it.
func (s Store) Lock(key string) (*Lock, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	path := filepath.Join(s.Dir, key+".lock")
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
	// The pid is for the message of a process that finds the lock taken;
	// where it cannot be written (a full disk, Windows' mandatory locks) the
	// message has none.
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	return &Lock{fl: fl}, nil
}

// Unlock releases the lock; calling it on nil does nothing.
func (l *Lock) Unlock() error {
	if l == nil {
		return nil
	}
	return l.fl.Unlock()
}

// IsLocked reports whether err is a *LockedError.
func IsLocked(err error) bool {
	var le *LockedError
	return errors.As(err, &le)
}
