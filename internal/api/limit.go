package api

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// wait blocks until w.lim lets n more bytes go, or the request's context
// ends. It is rate.Limiter.WaitN but for one thing: WaitN fails at once,
// with an error of its own, when the wait would outlast the context's
// deadline; here the request ends with the context's own error when the
// context does, which callers classify like any other end of a request.
//
// While it waits, w.waiting is set, so that the stall watchdog does not
// take the wait for a stall; before clearing it, it stores the end of the
// wait as the body's last movement.
func (w *watchedBody) wait(n int) error {
	start := time.Now()
	res := w.lim.ReserveN(start, n)
	if !res.OK() {
		return fmt.Errorf("the rate limiter (%v bytes/s, burst %d) can never let a read of %d bytes go", w.lim.Limit(), w.lim.Burst(), n)
	}
	d := res.DelayFrom(start)
	if d <= 0 {
		return nil
	}
	w.waiting.Store(true)
	defer func() {
		end := time.Now()
		w.waited.Add(int64(end.Sub(start)))
		w.last.Store(end.UnixNano())
		w.waiting.Store(false)
	}()
	if c := stallClock.Load(); c != nil {
		return w.waitOn(c, res)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-w.ctx.Done():
		res.Cancel()
		return w.ctx.Err()
	}
}

// waitOn waits until the test behind c releases the wait (see
// StallClock.Waits), or the request's context ends.
func (w *watchedBody) waitOn(c *StallClock, res *rate.Reservation) error {
	release := make(chan struct{})
	var once sync.Once
	select {
	case c.waits <- func() { once.Do(func() { close(release) }) }:
	case <-w.ctx.Done():
		res.Cancel()
		return w.ctx.Err()
	}
	select {
	case <-release:
		return nil
	case <-w.ctx.Done():
		res.Cancel()
		return w.ctx.Err()
	}
}
