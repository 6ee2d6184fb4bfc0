package api

import (
	"context"
	"net"
	"net/http"
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

// The default client's connections carry TCP_NOTSENT_LOWAT, and its
// transport keeps enough idle connections for the parts in flight.
func TestDefaultTransport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tr := defaultHTTPClient().Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != maxIdleConnsPerHost {
		t.Errorf("MaxIdleConnsPerHost = %d, want %d", tr.MaxIdleConnsPerHost, maxIdleConnsPerHost)
	}
	c, err := tr.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	if got != notSentLowat {
		t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", got, notSentLowat)
	}
}
