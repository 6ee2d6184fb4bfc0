//go:build unix && !linux

package api

import "syscall"

// tcpBytesAcked: these systems have no tcpi_bytes_acked that
// golang.org/x/sys/unix reads, so progress uses the send buffer bound.
func tcpBytesAcked(syscall.RawConn) (int64, bool) { return 0, false }
