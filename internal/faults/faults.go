// Package faults makes a server misbehave on purpose, for tests and
// benchmarks: it fails a chosen fraction of requests to chosen endpoints with
// 500, 503, 429 (with Retry-After), a connection dropped mid-body, or an
// answer lost after the server acted; it adds latency, and caps the rate at
// which each connection, and all of them together, can send bytes to the
// server.
//
// Each piece is a wrapper around an http.Handler (or a net.Listener), for
// whoever assembles a server to compose: the API's handler knows nothing of
// them. Everything here is off unless asked for, and reproducible with a seed.
package faults

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Kind is one way of failing a request.
type Kind string

// The kinds of fault.
const (
	Status500 Kind = "500"
	Status503 Kind = "503"
	Status429 Kind = "429"
	// Drop reads part of the body, then cuts the connection: the server
	// does nothing with the request.
	Drop Kind = "drop"
	// Lost lets the server handle the request fully (a part is stored, an
	// upload completed) and then cuts the connection instead of answering:
	// the answer is lost on the way back.
	Lost Kind = "lost"
	// Stall reads the first MiB of the body (or a random share of a smaller
	// one), then neither reads nor answers, as a dead network path does: the
	// connection is taken from the HTTP server and held for StallFor, then
	// closed (over HTTP/2, the stream is held, then reset). The server does
	// nothing with the request.
	Stall Kind = "stall"
)

// kindNames lists every kind, for messages.
const kindNames = "500, 503, 429, drop, lost and stall"

// DefaultKinds is the mix used when Config.Kinds is empty. Lost is not in
// it: a client retrying a lost create or complete has to cope with what the
// server already did, which a test asks for on purpose.
var DefaultKinds = []Kind{Status500, Status503, Status429, Drop}

// ParseKinds reads a comma-separated list such as "500,429,drop".
func ParseKinds(s string) ([]Kind, error) {
	var kinds []Kind
	for _, f := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(f))
		switch k {
		case Status500, Status503, Status429, Drop, Lost, Stall:
			kinds = append(kinds, k)
		case "":
		default:
			return nil, fmt.Errorf("unknown fault kind %q: expected a comma-separated list of %s", k, kindNames)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("no fault kinds in %q: expected a comma-separated list of %s", s, kindNames)
	}
	return kinds, nil
}

// Endpoint is a call of the Uploads API that faults can apply to.
type Endpoint string

// The endpoints.
const (
	Create   Endpoint = "create"   // POST /v1/uploads
	Parts    Endpoint = "parts"    // POST /v1/uploads/{id}/parts
	Complete Endpoint = "complete" // POST /v1/uploads/{id}/complete
	Cancel   Endpoint = "cancel"   // POST /v1/uploads/{id}/cancel
)

// endpointNames lists every endpoint, for messages.
const endpointNames = "create, parts, complete and cancel"

// DefaultEndpoints is where faults apply when Config.Endpoints is empty:
// only part uploads, so that a test's setup and checks do not flake.
var DefaultEndpoints = []Endpoint{Parts}

// ParseEndpoints reads a comma-separated list such as "parts,complete".
func ParseEndpoints(s string) ([]Endpoint, error) {
	var eps []Endpoint
	for _, f := range strings.Split(s, ",") {
		e := Endpoint(strings.TrimSpace(f))
		switch e {
		case Create, Parts, Complete, Cancel:
			eps = append(eps, e)
		case "":
		default:
			return nil, fmt.Errorf("unknown endpoint %q: expected a comma-separated list of %s", e, endpointNames)
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("no endpoints in %q: expected a comma-separated list of %s", s, endpointNames)
	}
	return eps, nil
}

// endpointOf names the call a request makes, if it is one faults can apply
// to: a POST to …/uploads, or to …/uploads/{id}/parts, /complete or /cancel.
func endpointOf(r *http.Request) (Endpoint, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	seg := strings.Split(r.URL.Path, "/")
	n := len(seg)
	switch {
	case n >= 1 && seg[n-1] == "uploads":
		return Create, true
	case n >= 3 && seg[n-3] == "uploads" && seg[n-2] != "":
		switch e := Endpoint(seg[n-1]); e {
		case Parts, Complete, Cancel:
			return e, true
		}
	}
	return "", false
}

// Config chooses the faults.
type Config struct {
	Rate  float64 // fraction of matching requests to fail, 0..1
	Kinds []Kind  // empty means DefaultKinds
	// Endpoints are the calls that may fail; empty means DefaultEndpoints.
	// Every other request goes through untouched.
	Endpoints []Endpoint
	Seed      uint64 // the same seed gives the same sequence of decisions
	// RetryAfter is what a 429 asks the client to wait (Retry-After in
	// whole seconds, rounded up, and Retry-After-Ms exactly).
	RetryAfter time.Duration
	// StallFor is how long a stall holds its connection (default
	// DefaultStallFor).
	StallFor time.Duration
	// Logger, when not nil, gets one line per injected fault.
	Logger *slog.Logger
}

// Injector decides, request by request, whether and how to fail.
type Injector struct {
	cfg      Config
	on       map[Endpoint]bool
	mu       sync.Mutex
	rng      *rand.Rand
	injected atomic.Int64
}

// New checks cfg and returns an Injector.
func New(cfg Config) (*Injector, error) {
	if cfg.Rate < 0 || cfg.Rate > 1 {
		return nil, fmt.Errorf("fault rate %v is out of range: expected a fraction from 0 to 1, such as 0.3", cfg.Rate)
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = DefaultKinds
	}
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = DefaultEndpoints
	}
	on := map[Endpoint]bool{}
	for _, e := range cfg.Endpoints {
		switch e {
		case Create, Parts, Complete, Cancel:
			on[e] = true
		default:
			return nil, fmt.Errorf("unknown endpoint %q: expected %s", e, endpointNames)
		}
	}
	for _, k := range cfg.Kinds {
		switch k {
		case Status500, Status503, Status429, Drop, Lost, Stall:
		default:
			return nil, fmt.Errorf("unknown fault kind %q: expected %s", k, kindNames)
		}
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 200 * time.Millisecond
	}
	if cfg.StallFor <= 0 {
		cfg.StallFor = DefaultStallFor
	}
	return &Injector{cfg: cfg, on: on, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}, nil
}

// Injected counts the faults injected so far.
func (in *Injector) Injected() int64 { return in.injected.Load() }

// decide returns the fault for the next request ("" for none) and, for a
// drop, the fraction of the body to read first.
func (in *Injector) decide() (Kind, float64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.rng.Float64() >= in.cfg.Rate {
		return "", 0
	}
	return in.cfg.Kinds[in.rng.IntN(len(in.cfg.Kinds))], in.rng.Float64() * 0.9
}

// Wrap fails the requests to the configured endpoints at the configured
// rate; the others go to next untouched.
func (in *Injector) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, ok := endpointOf(r)
		if !ok || !in.on[e] {
			next.ServeHTTP(w, r)
			return
		}
		kind, frac := in.decide()
		if kind == "" {
			next.ServeHTTP(w, r)
			return
		}
		in.injected.Add(1)
		if in.cfg.Logger != nil {
			in.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "injected fault", slog.String("kind", string(kind)),
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr))
		}
		switch kind {
		case Drop:
			n := int64(float64(max(r.ContentLength, 0)) * frac)
			_, _ = io.CopyN(io.Discard, r.Body, n)
			// Abort: the server closes the connection without an answer.
			panic(http.ErrAbortHandler)
		case Lost:
			// The server acts on the request, answering into a writer
			// nobody reads; then the connection is closed with nothing
			// sent. net/http writes a response only when the handler
			// returns, so the client sees the connection end before any
			// byte of an answer.
			next.ServeHTTP(&discardWriter{h: http.Header{}}, r)
			// Read (a bounded amount of) what the handler left, so that
			// the close is a clean end of stream rather than a reset.
			_, _ = io.CopyN(io.Discard, r.Body, 1<<20)
			panic(http.ErrAbortHandler)
		case Stall:
			StallRequest(w, r, min(1<<20, int64(float64(max(r.ContentLength, 0))*frac)), in.cfg.StallFor)
		case Status429:
			ms := in.cfg.RetryAfter.Milliseconds()
			w.Header().Set("Retry-After", fmt.Sprint((ms+999)/1000))
			w.Header().Set("Retry-After-Ms", fmt.Sprint(ms))
			writeFault(w, r, http.StatusTooManyRequests, "rate_limit_exceeded", "requests", "Rate limit reached (injected fault). Retry after the time in Retry-After.")
		case Status503:
			writeFault(w, r, http.StatusServiceUnavailable, "server_overloaded", "server_error", "The server is overloaded (injected fault). Retry the request.")
		default:
			writeFault(w, r, http.StatusInternalServerError, "server_error", "server_error", "The server had an error while processing your request (injected fault). Retry the request.")
		}
	})
}

// DefaultStallFor is how long a stalled request's connection is held.
const DefaultStallFor = 10 * time.Minute

// StallRequest reads the first n bytes of r's body, then neither reads nor
// answers: a dead path as the client sees it.
//
// Over HTTP/1 it takes the connection from the HTTP server and holds it for
// d, then closes it. (A handler that merely blocked would not do: net/http
// notices a client going away only once the body is read, and a server waits
// for its handlers when it shuts down.) An HTTP/2 stream cannot be taken
// from the server (nor can a connection whose Hijack fails): the handler
// blocks instead until the stream's context ends (the client cancels, the
// connection closes) or d has passed, then resets the stream. Meanwhile the
// stream's unread bytes hold its share of the connection's flow-control
// window, as a stuck stream does.
func StallRequest(w http.ResponseWriter, r *http.Request, n int64, d time.Duration) {
	_, _ = io.CopyN(io.Discard, r.Body, n)
	if r.ProtoMajor < 2 {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			go func() {
				t := time.NewTimer(d)
				defer t.Stop()
				<-t.C
				_ = conn.Close()
			}()
			return
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	panic(http.ErrAbortHandler) // reset the stream, no answer
}

// discardWriter is the ResponseWriter of a request whose answer is lost.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// writeFault answers r with an error, leaving its body unread: over HTTP/1
// the connection is closed after the answer; over HTTP/2 the server resets
// the stream alone (a Connection header would make it close the whole
// connection, every other stream's too).
func writeFault(w http.ResponseWriter, r *http.Request, status int, code, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":%q,"param":null,"code":%q}}`+"\n", msg, typ, code)
}

// Latency delays every request by d before handling it.
func Latency(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		next.ServeHTTP(w, r)
	})
}

// ThrottleListener caps how fast each accepted connection can deliver bytes
// to the server, as one TCP stream to a far-away endpoint would.
func ThrottleListener(ln net.Listener, bytesPerSecond int64) net.Listener {
	return NewThrottleListener(ln, Throttle{PerConn: bytesPerSecond})
}

// Throttle says how fast the connections of a listener can deliver bytes to
// the server, in bytes per second; 0 is no cap.
type Throttle struct {
	// PerConn caps each TCP connection on its own (every HTTP/2 stream on
	// it shares the cap), as one TCP stream to a far-away endpoint.
	PerConn int64
	// Link caps all the connections together, as the one link between a
	// client and the server that every connection crosses.
	Link int64
}

// NewThrottleListener caps the bytes its accepted connections deliver as t
// says. With both caps, a connection's bytes wait for both.
func NewThrottleListener(ln net.Listener, t Throttle) net.Listener {
	tl := &throttled{Listener: ln, t: t}
	if t.Link > 0 {
		tl.link = newLimiter(t.Link)
	}
	return tl
}

type throttled struct {
	net.Listener
	t    Throttle
	link *rate.Limiter // shared by every connection; nil for no link cap
}

// newLimiter allows bytesPerSecond with a burst of a second of it, at most
// 1 MiB.
func newLimiter(bytesPerSecond int64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(bytesPerSecond), int(min(bytesPerSecond, 1<<20)))
}

func (t *throttled) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// The rate one connection can get: its own cap, or the link's when
	// that is lower (or the only one).
	connRate := t.t.PerConn
	if t.t.Link > 0 && (connRate <= 0 || t.t.Link < connRate) {
		connRate = t.t.Link
	}
	if connRate <= 0 {
		return c, nil
	}
	// A far link's receiver does not acknowledge megabytes ahead of the
	// rate: what a client sees acknowledged is what crossed the link. Keep
	// the socket's receive buffer near 1/16 s of the rate, and read in
	// small chunks, so that the bytes taken from the socket ahead of the
	// rate stay near what a real path holds in flight.
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(int(max(min(connRate/16, 4<<20), 16<<10)))
	}
	tc := &throttledConn{Conn: c, link: t.link}
	if t.t.PerConn > 0 {
		tc.own = newLimiter(t.t.PerConn)
	}
	tc.chunk = limiterBurst(tc.own, limiterBurst(tc.link, throttleChunk))
	return tc, nil
}

// throttleChunk is the most a throttled connection reads at once.
const throttleChunk = 64 << 10

// limiterBurst is the smaller of lim's burst (when lim is not nil) and n.
func limiterBurst(lim *rate.Limiter, n int) int {
	if lim == nil {
		return n
	}
	return min(lim.Burst(), n)
}

// throttledConn waits, after each read, until its own limiter and the
// link's (each when not nil) allow the bytes read.
type throttledConn struct {
	net.Conn
	own, link *rate.Limiter
	chunk     int // the most one read takes: no more than either burst
}

func (c *throttledConn) Read(p []byte) (int, error) {
	if len(p) > c.chunk {
		p = p[:c.chunk]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if c.own != nil {
			_ = c.own.WaitN(context.Background(), n)
		}
		if c.link != nil {
			_ = c.link.WaitN(context.Background(), n)
		}
	}
	return n, err
}
