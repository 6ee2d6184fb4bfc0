//go:build aix || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package api

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpBytesAcked: these systems have no tcpi_bytes_acked that
// golang.org/x/sys/unix reads, so progress uses the send buffer bound.
func tcpBytesAcked(syscall.RawConn) (int64, bool) { return 0, false }

// sendBufferSize is the socket's send buffer (SO_SNDBUF), which bounds the
// bytes it holds unsent or unacknowledged.
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
