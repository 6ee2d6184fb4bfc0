package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// directIO can be turned off by tests, to run the buffered path.
var directIO = true

// openDirect opens path with O_DIRECT, so that reads and writes move between
// the caller's (aligned) buffer and the device without going through the page
// cache. It reports false, and opens the file normally, where the file system
// refuses O_DIRECT (tmpfs on older kernels, some FUSE and network file
// systems).
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	if !directIO {
		f, err := os.OpenFile(path, flag, perm)
		return f, false, err
	}
	f, err := os.OpenFile(path, flag|unix.O_DIRECT, perm)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return nil, false, err
	}
	if flag&os.O_EXCL != 0 {
		// The refused open may still have created the file: it is ours.
		_ = os.Remove(path)
	}
	f, err = os.OpenFile(path, flag, perm)
	return f, false, err
}

// clearDirect turns O_DIRECT off on f, for a write that is not a whole
// number of blocks (the end of a file) or that the file system refuses.
func clearDirect(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		var flags int
		if flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0); ferr == nil {
			_, ferr = unix.FcntlInt(fd, unix.F_SETFL, flags&^unix.O_DIRECT)
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// isDirectRefusal reports whether err is how Linux refuses an O_DIRECT
// transfer it cannot do (alignment the file system does not support).
func isDirectRefusal(err error) bool { return errors.Is(err, unix.EINVAL) }
