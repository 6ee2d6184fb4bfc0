//go:build linux || darwin

package api

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// notSentLowatControl sets TCP_NOTSENT_LOWAT to lowat on a TCP socket before
// it connects. A kernel that refuses it keeps its default: the upload works
// as before, its progress only runs further ahead of the wire.
func notSentLowatControl(lowat int) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		if !strings.HasPrefix(network, "tcp") {
			return nil
		}
		return c.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, lowat)
		})
	}
}
