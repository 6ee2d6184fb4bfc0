package api

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"syscall"
)

// Wire tells how many of a part's bytes the peer has acknowledged during
// one attempt to send it: progress that counts what the server received,
// not what was handed to the socket (which, with the socket's buffers and
// the bytes in flight, runs megabytes ahead of the server on a slow link).
//
// Set a new Wire in PartBody.Wire for each attempt; AddPart ties it to the
// request's connection. Under HTTP/1.1 a request owns its connection while
// it is in flight, so what the connection's peer acknowledged since the
// request took it is the request's: where the system tells (Linux's
// TCP_INFO, tcpi_bytes_acked), Acked is that, less the request's header
// and the multipart framing, within [0, the part's bytes read from the
// body]. Through a proxy (plain, or an HTTPS CONNECT tunnel) the peer is
// the proxy: what it acknowledged is the bound. Under HTTP/2 (a client's
// own transport) the streams share the connection, and the count is an
// upper bound of the request's own.
//
// Where the system does not tell (other systems, or TCP_INFO refused), Acked
// is the bytes read from the body less what can still be on the client's
// side: the socket's send buffer (SO_SNDBUF, which bounds the bytes it
// holds unsent or unacknowledged; defaultSendBuffer when unknown) and
// heldInProcess. That never counts bytes the peer does not have; it counts
// nothing until more than a send buffer has been read, and lags by up to a
// buffer's worth until the part is acknowledged.
//
// The zero Wire is ready; its methods are safe for concurrent use. Acked
// reads the socket (one getsockopt) each time it is called: call it when
// progress is reported, not per write.
type Wire struct {
	mu   sync.Mutex
	body *watchedBody // nil until AddPart starts the attempt
	head int64        // bytes of multipart framing before the part's bytes
	size int64        // the part's bytes; -1 unknown
	pre  int64        // bytes of the request line and header
	// conn is the connection's socket (nil before the connection is known,
	// or when it is not a TCP socket of this process); tlsOn says the
	// request's bytes travel in TLS records on it; base is the bytes the
	// peer had acknowledged on it when the request took it (-1: the system
	// does not tell, use the send buffer bound).
	conn  syscall.RawConn
	tlsOn bool
	base  int64
	// last is the most Acked has returned: it never goes back.
	last int64
	done bool
}

// Acked returns how many of the part's bytes (not counting the request's
// header and framing) the peer has acknowledged so far in this attempt.
// Once AddPart has returned it is the final figure: the part's size when
// the part was accepted, else the last figure seen.
func (w *Wire) Acked() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.body == nil {
		return w.last
	}
	read := w.readLocked()
	v, ok := w.connAckedLocked()
	if ok {
		v -= w.pre + w.head
	} else {
		held := int64(defaultSendBuffer)
		if w.conn != nil {
			if n, ok := sendBufferSize(w.conn); ok {
				held = n
			}
		}
		v = read - held - heldInProcess
	}
	w.last = max(w.last, min(max(v, 0), read))
	return w.last
}

// readLocked is how many of the part's bytes the HTTP client has read from
// the body.
func (w *Wire) readLocked() int64 {
	n := max(w.body.n.Load()-w.head, 0)
	if w.size >= 0 {
		n = min(n, w.size)
	}
	return n
}

// connAckedLocked is the bytes of the request (in plaintext) the peer has
// acknowledged on its connection, when the system tells.
func (w *Wire) connAckedLocked() (int64, bool) {
	if w.conn == nil || w.base < 0 {
		return 0, false
	}
	now, ok := tcpBytesAcked(w.conn)
	if !ok {
		return 0, false
	}
	d := max(now-w.base, 0)
	if w.tlsOn {
		// Each TLS record of at most tlsRecordPayload bytes costs
		// tlsRecordOverhead bytes more on the wire.
		d = d / (tlsRecordPayload + tlsRecordOverhead) * tlsRecordPayload
	}
	return d, true
}

// begin ties w to an attempt: the body the HTTP client reads, with head
// bytes of framing before the part's size bytes.
func (w *Wire) begin(body *watchedBody, head, size int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.body, w.head, w.size, w.pre = body, head, size, 0
	w.conn, w.tlsOn, w.base = nil, false, -1
	w.last, w.done = 0, false
}

// request notes the request's header, before it is sent, and returns the
// request traced so that its connection becomes known.
func (w *Wire) request(req *http.Request) *http.Request {
	pre := requestHeadLen(req)
	w.mu.Lock()
	w.pre = pre
	w.mu.Unlock()
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: w.gotConn}))
}

// gotConn notes the connection the request took, and what its peer had
// acknowledged on it by then.
func (w *Wire) gotConn(info httptrace.GotConnInfo) {
	rc, tlsOn := socketOf(info.Conn)
	base := int64(-1)
	if rc != nil {
		if n, ok := tcpBytesAcked(rc); ok {
			base = n
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.conn, w.tlsOn, w.base = rc, tlsOn, base
}

// end closes the attempt: when the server accepted the part it has every
// byte of it; otherwise the last figure stands.
func (w *Wire) end(accepted bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if accepted && w.body != nil {
		w.last = max(w.last, w.readLocked())
	}
	w.done, w.conn = true, nil
}

// TLS records: Go's crypto/tls fills records of up to 16 KiB of plaintext
// (smaller ones, about a segment each, on a connection's first 128 KiB)
// and adds at most 29 bytes to each with the ciphers it offers (TLS 1.2
// AES-GCM: a 5-byte header, an 8-byte explicit nonce and a 16-byte tag;
// TLS 1.3 adds 22). Counting full records, the connection's first
// 128 KiB over-count by at most about 3 KiB.
const (
	tlsRecordPayload  = 16 << 10
	tlsRecordOverhead = 29
)

// defaultSendBuffer is the send buffer assumed when the system does not
// say: Linux's largest by default (tcp_wmem), about what macOS grows one
// to as well.
const defaultSendBuffer = 4 << 20

// heldInProcess bounds the bytes read from a body and not yet in the
// socket, or in it beyond its send buffer: net/http's copy buffer
// (32 KiB), its 4 KiB write buffer, a TLS record (16 KiB), and the one
// segment the kernel queues past the buffer's limit (64 KiB at most).
const heldInProcess = 128 << 10

// socketOf returns the TCP socket under c, unwrapping TLS (twice for an
// HTTPS request through an HTTPS proxy's CONNECT tunnel) and connections
// that expose the one they wrap; nil when there is none. tlsOn says
// whether c's bytes travel in TLS records.
func socketOf(c net.Conn) (rc syscall.RawConn, tlsOn bool) {
	for range 4 {
		switch x := c.(type) {
		case *net.TCPConn:
			rc, err := x.SyscallConn()
			if err != nil {
				return nil, tlsOn
			}
			return rc, tlsOn
		case *tls.Conn:
			tlsOn = true
			c = x.NetConn()
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil, tlsOn
		}
	}
	return nil, tlsOn
}

// requestHeadLen is the length of req's request line and header as
// net/http's transport writes them (HTTP/1.1 to the server, not through a
// plain proxy, which gets the absolute URL: a few bytes more).
func requestHeadLen(req *http.Request) int64 {
	var cw countWriter
	uri := req.URL.RequestURI()
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	_, _ = io.WriteString(&cw, req.Method+" "+uri+" HTTP/1.1\r\nHost: "+host+"\r\n")
	if req.Header.Get("User-Agent") == "" {
		_, _ = io.WriteString(&cw, "User-Agent: Go-http-client/1.1\r\n")
	}
	if req.ContentLength >= 0 {
		_, _ = io.WriteString(&cw, "Content-Length: "+strconv.FormatInt(req.ContentLength, 10)+"\r\n")
	} else {
		_, _ = io.WriteString(&cw, "Transfer-Encoding: chunked\r\n")
	}
	_ = req.Header.Write(&cw)
	if req.Header.Get("Accept-Encoding") == "" {
		_, _ = io.WriteString(&cw, "Accept-Encoding: gzip\r\n")
	}
	_, _ = io.WriteString(&cw, "\r\n")
	return int64(cw)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
