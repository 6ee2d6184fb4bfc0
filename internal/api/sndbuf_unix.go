//go:build unix

package api

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sendBufferSize is the socket's send buffer (SO_SNDBUF; on Linux the
// memory it may hold, twice what was asked, grown by autotuning), which
// bounds the bytes it holds unsent or unacknowledged.
func sendBufferSize(rc syscall.RawConn) (int64, bool) {
	var n int
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		n, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	}); cerr != nil || err != nil || n <= 0 {
		return 0, false
	}
	return int64(n), true
}
