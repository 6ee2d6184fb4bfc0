package api

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"

	"golang.org/x/sys/unix"
)

// sockStat is what the kernel says of a client connection's send side.
type sockStat struct {
	notSent  int64 // bytes in the socket TCP has not sent
	inFlight int64 // bytes sent and not yet acknowledged
	sendWnd  int64 // the receiver's advertised window
	cwnd     int64 // the congestion window, in bytes (segments × MSS)
}

func readSockStat(c net.Conn) (sockStat, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return sockStat{}, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return sockStat{}, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
		return sockStat{}, false
	}
	return sockStat{
		notSent:  int64(info.Notsent_bytes),
		inFlight: int64(info.Bytes_sent) - int64(info.Bytes_acked),
		sendWnd:  int64(info.Snd_wnd),
		cwnd:     int64(info.Snd_cwnd) * int64(info.Snd_mss),
	}, true
}

// notSentLowatOf reads TCP_NOTSENT_LOWAT back from a connection's socket.
func notSentLowatOf(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return got
}

// The connection a request of the default client goes on carries
// TCP_NOTSENT_LOWAT, read back from its socket with getsockopt; a plain
// connection to the same server has the kernel's default, which differs.
func TestDefaultTransportSetsNotSentLowat(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hs.Close()
	var conn net.Conn
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := defaultHTTPClient()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	defer client.CloseIdleConnections()
	if conn == nil {
		t.Fatal("no connection was reported for the request")
	}
	if got := notSentLowatOf(t, conn); got != notSentLowat {
		t.Errorf("TCP_NOTSENT_LOWAT of the request's connection = %d, want %d", got, notSentLowat)
	}
	plain, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if def := notSentLowatOf(t, plain); def == notSentLowat {
		t.Fatalf("a plain connection has TCP_NOTSENT_LOWAT %d too: the check above proves nothing", def)
	}
}
