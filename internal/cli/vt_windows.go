//go:build windows

package cli

import (
	"os"

	"golang.org/x/sys/windows"
)

// enableANSI turns on the processing of ANSI escape sequences (virtual
// terminal processing) on f's console, which the live view's redraws need,
// and reports whether it is on: consoles before Windows 10 do not have it.
func enableANSI(f *os.File) bool {
	h := windows.Handle(f.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
