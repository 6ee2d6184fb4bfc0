package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/uploads-dev/uploads/internal/retry"
)

// Class is what a caller can do about an error.
type Class int

// Error classes.
const (
	// Other is a local failure (a file that cannot be read, a bad answer).
	Other Class = iota
	// Rejected is a 4xx other than 401/403: the request itself is wrong;
	// or a file whose processing failed (*ProcessingError).
	Rejected
	// Auth is a 401 or 403.
	Auth
	// Transient is a network failure, a timeout, 408, 429 or 5xx, or a
	// wait for processing that ran out (*WaitTimeoutError): trying again
	// later may work.
	Transient
	// Canceled means the caller's context ended (Ctrl-C).
	Canceled
)

// Classify sorts err. ctx is the caller's context: once it has ended, any
// error is Canceled.
func Classify(ctx context.Context, err error) Class {
	if err == nil {
		return Other
	}
	if ctx.Err() != nil {
		return Canceled
	}
	var se *StalledError
	var we *WaitTimeoutError
	if errors.As(err, &se) || errors.As(err, &we) {
		return Transient
	}
	var pe *ProcessingError
	if errors.As(err, &pe) {
		return Rejected
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	var ae *openai.Error
	if errors.As(err, &ae) {
		switch s := ae.StatusCode; {
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return Auth
		case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
			return Transient
		case s >= 400:
			return Rejected
		}
		return Other
	}
	if IsCertificateError(err) {
		return Other // the server is not trusted: sending again cannot help
	}
	// Failures of a request on its way (the HTTP client wraps them in a
	// *url.Error); not, say, a local listen error.
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return Transient
	}
	return Other
}

// ErrorOf returns the API's error behind err, if there is one.
func ErrorOf(err error) (*openai.Error, bool) {
	var ae *openai.Error
	ok := errors.As(err, &ae)
	return ae, ok
}

// RetryAfter is how long the server asked the client to wait
// (Retry-After-Ms, else Retry-After in seconds or as an HTTP date).
func RetryAfter(err error) (time.Duration, bool) {
	ae, ok := ErrorOf(err)
	if !ok || ae.Response == nil {
		return 0, false
	}
	h := ae.Response.Header
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0), true
		}
	}
	return 0, false
}

// RetryVerdict says whether a failed request is worth another attempt, and
// not before when: a Transient failure is, after the server's Retry-After
// (a 429 without one waits a second, to slow every worker down); anything
// else is not. It is the one verdict of every retried call (put's parts,
// a stream's, `uploads parts add`).
func RetryVerdict(ctx context.Context, err error) retry.Verdict {
	if Classify(ctx, err) != Transient {
		return retry.Verdict{}
	}
	after, ok := RetryAfter(err)
	if ae, isAPI := ErrorOf(err); isAPI && ae.StatusCode == http.StatusTooManyRequests && !ok {
		after = time.Second
	}
	return retry.Verdict{Retry: true, After: after}
}
