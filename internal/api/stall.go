package api

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultStallTimeout is how long a part's bytes may stop moving, or its
// answer may keep away once they are all sent, before the request is cut.
// A minute outlasts what a live TCP connection goes through (retransmission
// backoff reaches 32 s after five losses; a Wi-Fi handover or a NAT rebinding
// takes seconds) and still ends a dead path quickly for an upload that is
// meant to last minutes.
const DefaultStallTimeout = time.Minute

// sendBufferAllowance is how many bytes of a part may still sit in the
// operating system's send buffer when the client has handed the last byte
// over: the answer is waited for as long as those need at the rate seen,
// on top of the stall timeout (Linux grows a socket's send buffer to 4 MiB).
const sendBufferAllowance = 4 << 20

// StalledError is a part request that was cut because its bytes stopped
// moving, or because no answer came once they were all sent, for longer
// than the stall timeout. It is transient: sending the part again may work.
type StalledError struct {
	Timeout    time.Duration
	Sent, Size int64 // bytes of the request handed to the connection, of all
	// Answer is true when every byte was sent and the answer did not come.
	Answer bool
}

func (e *StalledError) Error() string {
	if e.Answer {
		return fmt.Sprintf("stalled: all %d bytes were sent but no answer came within %s", e.Size, e.Timeout)
	}
	return fmt.Sprintf("stalled: no bytes moved for %s (%d of %d bytes sent)", e.Timeout, e.Sent, e.Size)
}

// watchedBody counts the bytes the HTTP client reads from a request body:
// it reads them as the connection takes them, so the count moves with the
// bytes on their way.
type watchedBody struct {
	r      io.Reader
	n      atomic.Int64
	last   atomic.Int64 // UnixNano of the last read that moved bytes
	doneAt atomic.Int64 // UnixNano of the end of the body; 0 before
	onRead func(int)
	// lim, when set, paces the reads (see limit.go) on ctx, the request's
	// context. waiting is true while a read waits on lim, which is not a
	// stall; waited sums those waits (nanoseconds), which are not the
	// link's time either.
	lim     *rate.Limiter
	ctx     context.Context
	waiting atomic.Bool
	waited  atomic.Int64
}

func newWatchedBody(r io.Reader, onRead func(int)) *watchedBody {
	w := &watchedBody{r: r, onRead: onRead}
	w.last.Store(time.Now().UnixNano())
	return w
}

func (w *watchedBody) Read(p []byte) (int, error) {
	limited := w.lim != nil && w.lim.Limit() != rate.Inf
	if limited {
		p = p[:min(len(p), max(w.lim.Burst(), 1))]
	}
	n, err := w.r.Read(p)
	if limited && n > 0 {
		if werr := w.wait(n); werr != nil {
			return 0, werr
		}
	}
	now := time.Now().UnixNano()
	if n > 0 {
		w.n.Add(int64(n))
		w.last.Store(now)
		if w.onRead != nil {
			w.onRead(n)
		}
	}
	if err == io.EOF {
		w.doneAt.CompareAndSwap(0, now)
	}
	return n, err
}

// watch cuts the request (cancel with a *StalledError) when its body has not
// moved for timeout, or when, all of it sent, the answer has not come within
// timeout plus the time the send buffer needs at the rate seen. It returns
// when answered is closed or ctx ends. It checks every eighth of timeout,
// or, while a StallClock is installed, when the clock ticks.
func watch(ctx context.Context, cancel context.CancelCauseFunc, body *watchedBody, size int64, timeout time.Duration, answered <-chan struct{}) {
	start := time.Now()
	var tickC <-chan time.Time
	var clockC <-chan clockTick
	if c := stallClock.Load(); c != nil {
		w := c.add()
		defer c.remove(w)
		clockC = w.ticks
	} else {
		tick := time.NewTicker(max(timeout/8, 10*time.Millisecond))
		defer tick.Stop()
		tickC = tick.C
	}
	// stalled checks the body at now and cuts the request if it stalled.
	stalled := func(now time.Time) bool {
		sent := body.n.Load()
		if done := body.doneAt.Load(); done != 0 {
			took := time.Duration(done-start.UnixNano()) - time.Duration(body.waited.Load())
			wait := timeout
			if sent > 0 && took > 0 {
				wait += time.Duration(float64(min(sendBufferAllowance, sent)) / float64(sent) * float64(took))
			}
			if now.Sub(time.Unix(0, done)) > wait {
				cancel(&StalledError{Timeout: timeout, Sent: sent, Size: size, Answer: true})
				return true
			}
			return false
		}
		// A read waiting on the rate limiter is not a stall; it
		// stores last before it clears waiting.
		if body.waiting.Load() {
			return false
		}
		if now.Sub(time.Unix(0, body.last.Load())) > timeout {
			cancel(&StalledError{Timeout: timeout, Sent: sent, Size: size})
			return true
		}
		return false
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-answered:
			return
		case now := <-tickC:
			if stalled(now) {
				return
			}
		case t := <-clockC:
			// A request that has ended is not checked: the tick may be
			// picked before the end it coincides with.
			ended := ctx.Err() != nil
			select {
			case <-answered:
				ended = true
			default:
			}
			cut := !ended && stalled(t.now)
			t.cut <- cut
			if cut || ended {
				return
			}
		}
	}
}

// A StallClock stands in for the clock of the stall watchdogs and of the
// waits on a rate limiter, in tests, so that they can tell a stall from a
// wait whatever the machine's load. While one is installed (SetStallClock),
// a watchdog checks its request only when Tick says, and a read that must
// wait on a limiter waits until the test releases it (see Waits), not for
// the limiter's delay.
type StallClock struct {
	mu      sync.Mutex
	watches map[*clockWatch]struct{}
	waits   chan func()
}

type clockWatch struct {
	ticks chan clockTick
	done  chan struct{} // closed when the watchdog returns
}

type clockTick struct {
	now time.Time
	cut chan<- bool
}

// stallClock is the installed StallClock; nil in production.
var stallClock atomic.Pointer[StallClock]

// NewStallClock returns a StallClock; SetStallClock installs it.
func NewStallClock() *StallClock {
	return &StallClock{watches: map[*clockWatch]struct{}{}, waits: make(chan func())}
}

// SetStallClock installs c for the requests that start from now on, in
// the whole process (nil uninstalls), and returns what undoes it. It is
// for tests; t.Cleanup(api.SetStallClock(c)).
func SetStallClock(c *StallClock) (restore func()) {
	old := stallClock.Swap(c)
	return func() { stallClock.Store(old) }
}

func (c *StallClock) add() *clockWatch {
	w := &clockWatch{ticks: make(chan clockTick), done: make(chan struct{})}
	c.mu.Lock()
	c.watches[w] = struct{}{}
	c.mu.Unlock()
	return w
}

func (c *StallClock) remove(w *clockWatch) {
	c.mu.Lock()
	delete(c.watches, w)
	c.mu.Unlock()
	close(w.done)
}

// Tick has every running watchdog check its request once, as if it were
// ahead from now, and returns, when they all have, how many checked and
// how many of those cut their request.
func (c *StallClock) Tick(ahead time.Duration) (checked, cut int) {
	c.mu.Lock()
	ws := make([]*clockWatch, 0, len(c.watches))
	for w := range c.watches {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	for _, w := range ws {
		reply := make(chan bool, 1)
		select {
		case w.ticks <- clockTick{now: time.Now().Add(ahead), cut: reply}:
			checked++
			if <-reply {
				cut++
			}
		case <-w.done:
		}
	}
	return checked, cut
}

// Waits delivers each wait on a rate limiter as it begins: the read waits
// until the function received is called (or its request ends).
func (c *StallClock) Waits() <-chan func() { return c.waits }
