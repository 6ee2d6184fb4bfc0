//go:build !linux

package store

import "os"

// openDirect opens path normally: only Linux gets O_DIRECT here.
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag, perm)
	return f, false, err
}

func clearDirect(*os.File) error { return nil }

func isDirectRefusal(error) bool { return false }

// directIO is here so that tests build everywhere; only Linux uses it.
var directIO = true
