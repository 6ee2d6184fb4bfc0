//go:build !unix

package api

import "syscall"

// tcpBytesAcked: not read on this system; progress uses the send buffer
// bound.
func tcpBytesAcked(syscall.RawConn) (int64, bool) { return 0, false }

// sendBufferSize: not read on this system; defaultSendBuffer is assumed.
func sendBufferSize(syscall.RawConn) (int64, bool) { return 0, false }
