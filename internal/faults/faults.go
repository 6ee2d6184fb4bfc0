// Package faults makes a server misbehave on purpose, for tests and
// benchmarks: it fails a chosen fraction of requests with 500, 503, 429 (with
// Retry-After) or a connection dropped mid-body, adds latency, and caps the
// rate at which each connection can send bytes to the server.
//
// Everything here is off unless asked for, and reproducible with a seed.
package faults

import (
	"context"
	"fmt"
	"io"
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
	Drop      Kind = "drop" // read part of the body, then cut the connection
)

// AllKinds is the default mix.
var AllKinds = []Kind{Status500, Status503, Status429, Drop}

// ParseKinds reads a comma-separated list such as "500,429,drop".
func ParseKinds(s string) ([]Kind, error) {
	var kinds []Kind
	for _, f := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(f))
		switch k {
		case Status500, Status503, Status429, Drop:
			kinds = append(kinds, k)
		case "":
		default:
			return nil, fmt.Errorf("unknown fault kind %q: expected a comma-separated list of 500, 503, 429 and drop", k)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("no fault kinds in %q: expected a comma-separated list of 500, 503, 429 and drop", s)
	}
	return kinds, nil
}

// Config chooses the faults.
type Config struct {
	Rate  float64 // fraction of matching requests to fail, 0..1
	Kinds []Kind  // empty means AllKinds
	Seed  uint64  // the same seed gives the same sequence of decisions
	// RetryAfter is what a 429 asks the client to wait (Retry-After in
	// whole seconds, rounded up, and Retry-After-Ms exactly).
	RetryAfter time.Duration
}

// Injector decides, request by request, whether and how to fail.
type Injector struct {
	cfg      Config
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
		cfg.Kinds = AllKinds
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 200 * time.Millisecond
	}
	return &Injector{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}, nil
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

// Wrap fails the requests for which applies returns true, at the configured
// rate; the others go to next untouched.
func (in *Injector) Wrap(next http.Handler, applies func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !applies(r) {
			next.ServeHTTP(w, r)
			return
		}
		kind, frac := in.decide()
		if kind == "" {
			next.ServeHTTP(w, r)
			return
		}
		in.injected.Add(1)
		switch kind {
		case Drop:
			n := int64(float64(max(r.ContentLength, 0)) * frac)
			_, _ = io.CopyN(io.Discard, r.Body, n)
			// Abort: the server closes the connection without an answer.
			panic(http.ErrAbortHandler)
		case Status429:
			ms := in.cfg.RetryAfter.Milliseconds()
			w.Header().Set("Retry-After", fmt.Sprint((ms+999)/1000))
			w.Header().Set("Retry-After-Ms", fmt.Sprint(ms))
			writeFault(w, http.StatusTooManyRequests, "rate_limit_exceeded", "requests", "Rate limit reached (injected fault). Retry after the time in Retry-After.")
		case Status503:
			writeFault(w, http.StatusServiceUnavailable, "server_overloaded", "server_error", "The server is overloaded (injected fault). Retry the request.")
		default:
			writeFault(w, http.StatusInternalServerError, "server_error", "server_error", "The server had an error while processing your request (injected fault). Retry the request.")
		}
	})
}

func writeFault(w http.ResponseWriter, status int, code, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // the body is left unread
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
	return &throttled{Listener: ln, rate: bytesPerSecond}
}

type throttled struct {
	net.Listener
	rate int64
}

func (t *throttled) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	burst := int(min(t.rate, 1<<20))
	return &throttledConn{Conn: c, lim: rate.NewLimiter(rate.Limit(t.rate), burst), burst: burst}, nil
}

type throttledConn struct {
	net.Conn
	lim   *rate.Limiter
	burst int
}

func (c *throttledConn) Read(p []byte) (int, error) {
	if len(p) > c.burst {
		p = p[:c.burst]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		_ = c.lim.WaitN(context.Background(), n)
	}
	return n, err
}
