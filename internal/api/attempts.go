package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"syscall"
)

// attempts remembers the last failure of an attempt to reach the server
// (a refused connection, a reset, a DNS failure), so that a request that
// runs out of time can say what it was waiting for: "context deadline
// exceeded" alone hides a server that is not there.
type attempts struct {
	mu   sync.Mutex
	last error
	// reached is whether the server has answered once.
	reached bool
}

// record is an openai-go middleware. It also ends a call (see call) whose
// attempt failed in a way no retry mends: the server's certificate, or a
// refused connection to a server that has never answered this process —
// nothing listens at the base URL, and retrying for seconds without a word
// helps nobody (a server that answered before and now refuses may be
// restarting, so that is still retried).
func (a *attempts) record(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	resp, err := next(req)
	a.mu.Lock()
	if resp != nil {
		a.reached = true
	}
	fatal := err != nil && (IsCertificateError(err) || !a.reached && errors.Is(err, syscall.ECONNREFUSED))
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		a.last = err
	}
	a.mu.Unlock()
	if fatal {
		if stop, ok := req.Context().Value(stopKey{}).(context.CancelCauseFunc); ok {
			stop(err)
		}
	}
	return resp, err
}

// TimeoutError is a request that ran out of time, with the failure of the
// attempt before it when there was one.
type TimeoutError struct {
	BaseURL string
	// LastAttempt is how the last failed attempt failed, nil when every
	// attempt was simply slow.
	LastAttempt error
	Err         error
}

func (e *TimeoutError) Error() string {
	if e.LastAttempt != nil {
		return fmt.Sprintf("no answer from %s in time; the last attempt failed: %v (%v)", e.BaseURL, e.LastAttempt, e.Err)
	}
	return fmt.Sprintf("no answer from %s in time (%v)", e.BaseURL, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// ExplainTimeout turns a timed-out request's error into a *TimeoutError
// that names the server and how its last attempt failed; other errors are
// returned as they are.
func (c *Client) ExplainTimeout(err error) error {
	var te *TimeoutError
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
		return err
	}
	c.attempts.mu.Lock()
	last := c.attempts.last
	c.attempts.mu.Unlock()
	return &TimeoutError{BaseURL: c.cfg.BaseURL, LastAttempt: last, Err: err}
}
