//go:build !windows

package cli

import "os"

// enableANSI reports whether f's terminal takes ANSI escape sequences:
// terminals outside Windows do.
func enableANSI(*os.File) bool { return true }
