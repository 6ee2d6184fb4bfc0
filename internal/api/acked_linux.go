//go:build linux

package api

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpBytesAcked is the bytes the peer has acknowledged on the TCP socket
// rc so far (TCP_INFO's tcpi_bytes_acked, which counts the SYN as 1).
// ok is false when the kernel does not tell: the call fails, or the field
// reads 0, which a connected socket of this side never has unless its
// kernel predates the field (Linux 4.1) and leaves it zero.
func tcpBytesAcked(rc syscall.RawConn) (n int64, ok bool) {
	var info *unix.TCPInfo
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil || info.Bytes_acked == 0 {
		return 0, false
	}
	return int64(info.Bytes_acked), true
}
