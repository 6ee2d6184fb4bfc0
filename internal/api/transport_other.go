//go:build !linux && !darwin

package api

import "syscall"

// notSentLowatControl does nothing where TCP_NOTSENT_LOWAT is not offered
// through golang.org/x/sys/unix: sockets keep the system's send buffers.
func notSentLowatControl(int) func(network, address string, c syscall.RawConn) error {
	return nil
}
