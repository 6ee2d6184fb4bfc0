package api

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// notSentLowat bounds the bytes a connection's socket holds that TCP has not
// yet sent (TCP_NOTSENT_LOWAT): the socket takes more of a part only once
// what it holds falls below this, so the bytes counted as sent (progress,
// the stall watchdog) are on the wire or close to it, not waiting in a send
// buffer that Linux grows to 4 MiB. Bytes sent and not yet acknowledged are
// not limited by it: the congestion window, and so the throughput, is
// untouched.
//
// Measured (docs/benchmarks.md, "Progress that follows the wire"): at
// 2 MiB/s per connection, what a part counts as sent ahead of the server
// falls from 3-4 MiB to 1-2 MiB with 1 MiB, to about 1 MiB with 16-256 KiB;
// but below 1 MiB the writer is woken for less each time and its writes go
// out in smaller segments: 16-256 KiB cost 6-9 % more client CPU in the
// far benchmark, 512 KiB 2-4 %, 1 MiB nothing measurable. No value changed
// the throughput.
const notSentLowat = 1 << 20

// maxIdleConnsPerHost is how many idle connections to the one host the
// client talks to are kept for the next request. Go's default, 2, closes
// the others when parts end together: at --concurrency 8 the client dialed
// 13-14 connections for one file of 16 parts, 26 for four files in a row,
// 177-187 for 200 small files at --jobs 8; 8 in each case with 64, which
// covers --jobs 8 at the default concurrency.
const maxIdleConnsPerHost = 64

// defaultHTTPClient carries the requests of every Client whose Config has no
// HTTPClient.
var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: newTransport(notSentLowat)}
})

// newTransport is a clone of http.DefaultTransport that keeps
// maxIdleConnsPerHost idle connections and whose connections hold at most
// lowat unsent bytes in their sockets (0: the system's default, no bound;
// on systems without TCP_NOTSENT_LOWAT, always that).
func newTransport(lowat int) *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost // within MaxIdleConns (100)
	// The timeouts of http.DefaultTransport's own dialer.
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if lowat > 0 {
		d.Control = notSentLowatControl(lowat)
	}
	t.DialContext = d.DialContext
	return t
}
