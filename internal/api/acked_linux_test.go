package api

import (
	"io"
	"net"
	"testing"
)

// TCP_INFO's tcpi_bytes_acked, as tcpBytesAcked reads it: 1 on a connected
// socket (its SYN), and then every byte the peer acknowledged. The peer
// answers a byte once it has read them all; the segment that carries it
// acknowledges them, and the kernel takes the acknowledgement before it
// queues the byte, so once the byte is read the count is there.
func TestTCPBytesAcked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 3<<20 + 17
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := io.CopyN(io.Discard, c, n); err == nil {
			_, _ = c.Write([]byte{1})
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc, _ := socketOf(conn)
	base, ok := tcpBytesAcked(rc)
	if !ok || base != 1 {
		t.Fatalf("a connected socket: %d, %v; want 1, true", base, ok)
	}
	if _, err := conn.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if got, ok := tcpBytesAcked(rc); !ok || got != base+n {
		t.Fatalf("after %d bytes read by the peer: %d, %v; want %d", n, got, ok, base+n)
	}
	if sb, ok := sendBufferSize(rc); !ok || sb <= 0 {
		t.Fatalf("SO_SNDBUF: %d, %v", sb, ok)
	}
}
