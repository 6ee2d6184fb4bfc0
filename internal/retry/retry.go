// Package retry runs an operation again after transient failures: exponential
// backoff with full jitter, a server's Retry-After honoured as a minimum, a
// budget of attempts that resets whenever the caller reports progress, and a
// gate that makes every worker pause when one of them is told to slow down.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Policy says how often and how long to wait.
type Policy struct {
	// Retries is how many times to try again after the first attempt before
	// giving up, counted since the last progress.
	Retries int
	// Base is the backoff before the first retry; it doubles each time, up
	// to Max. The actual wait is a random fraction of it (full jitter).
	Base, Max time.Duration
}

// Default is the policy of uploads: 8 retries, 0.5 s doubling to 30 s.
var Default = Policy{Retries: 8, Base: 500 * time.Millisecond, Max: 30 * time.Second}

// Backoff is the wait before retry number n (0-based): a uniformly random
// duration in [0, min(Max, Base·2ⁿ)].
func (p Policy) Backoff(n int) time.Duration {
	ceiling := p.Max
	if n < 32 {
		if d := p.Base << n; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// Verdict is what the caller's classifier says of a failure.
type Verdict struct {
	Retry bool
	// After is the server's requested wait (Retry-After), 0 if none.
	After time.Duration
}

// Attempt describes a retry about to happen, for progress reports.
type Attempt struct {
	N    int           // 1 for the first retry
	Wait time.Duration // how long until it starts
	Err  error         // the failure that caused it
}

// Op is one run of a retried operation.
type Op struct {
	Policy   Policy
	Classify func(error) Verdict
	// Progress, if set, returns a counter that grows whenever work gets
	// through; when it has grown since the last failure, the budget of
	// retries starts again.
	Progress func() int64
	// Gate, if set, is shared by all workers: a Retry-After holds it for
	// everyone, and each attempt waits for it first.
	Gate *Gate
	// OnRetry, if set, is told of each retry before its wait.
	OnRetry func(Attempt)
}

// ExhaustedError is returned when the retries ran out.
type ExhaustedError struct {
	Retries int
	Err     error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("still failing after %d retries: %v", e.Retries, e.Err)
}

// Unwrap returns the last failure.
func (e *ExhaustedError) Unwrap() error { return e.Err }

// Do runs f until it succeeds, fails in a way not worth retrying, runs out of
// retries or ctx ends.
func (o Op) Do(ctx context.Context, f func() error) error {
	failures := 0
	var progress int64
	if o.Progress != nil {
		progress = o.Progress()
	}
	for {
		if o.Gate != nil {
			if err := o.Gate.Wait(ctx); err != nil {
				return err
			}
		}
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		v := o.Classify(err)
		if !v.Retry {
			return err
		}
		if o.Progress != nil {
			if p := o.Progress(); p != progress {
				progress, failures = p, 0
			}
		}
		if failures >= o.Policy.Retries {
			return &ExhaustedError{Retries: failures, Err: err}
		}
		wait := o.Policy.Backoff(failures)
		failures++
		if v.After > 0 {
			wait = max(wait, v.After)
			if o.Gate != nil {
				o.Gate.Hold(v.After)
			}
		}
		if o.OnRetry != nil {
			o.OnRetry(Attempt{N: failures, Wait: wait, Err: err})
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// Sleep waits for d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Gate is a pause shared by workers.
type Gate struct {
	mu    sync.Mutex
	until time.Time
}

// Hold makes every Wait from now on last until d from now (or longer, if an
// earlier Hold reaches further).
func (g *Gate) Hold(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := time.Now().Add(d); t.After(g.until) {
		g.until = t
	}
}

// Wait returns once the gate is open, or when ctx ends.
func (g *Gate) Wait(ctx context.Context) error {
	g.mu.Lock()
	d := time.Until(g.until)
	g.mu.Unlock()
	return Sleep(ctx, d)
}
