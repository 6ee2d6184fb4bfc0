package api

import (
	"context"
	"fmt"
	"time"

	"github.com/openai/openai-go/v3"
)

// The polls of WaitProcessed: the first wait, its growth and its ceiling.
const (
	waitFirst  = time.Second
	waitFactor = 1.5
	waitMax    = 10 * time.Second
)

// ProcessingError is a file whose processing failed: the server's status
// (error) and what it said about it (status_details).
type ProcessingError struct {
	FileID  string
	Status  string
	Details string
}

func (e *ProcessingError) Error() string {
	if e.Details == "" {
		return fmt.Sprintf("file %s: processing failed (status %q, no details from the server)", e.FileID, e.Status)
	}
	return fmt.Sprintf("file %s: processing failed (status %q): %s", e.FileID, e.Status, e.Details)
}

// WaitTimeoutError is a file that was not processed within the time a
// caller allowed: its last status and how long the wait lasted.
type WaitTimeoutError struct {
	FileID string
	Status string
	Waited time.Duration
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("file %s is still %q after waiting %s for it to be processed; wait longer, or check it later with GET /files/%s",
		e.FileID, e.Status, e.Waited.Round(time.Millisecond), e.FileID)
}

// WaitProcessed polls GET /files/{id} until the file's status is
// "processed" and returns the file as then read. The polls are 1 s apart at
// first, each wait 1.5 times the last, up to 10 s; onPoll, when not nil, is
// called after each poll that must be followed by another, with the status
// seen and the wait before the next.
//
// Status "error" ends the wait with a *ProcessingError carrying the
// server's status_details. A file not processed after max (0 or less: no
// limit but ctx) ends it with a *WaitTimeoutError; the last poll is made at
// the limit. A failed GET (after the SDK's retries) ends it with that error,
// and ctx ending with ctx's error. A file with no status at all (the field
// is deprecated; a service may leave it out) has nothing to wait for, and is
// returned at once.
func (c *Client) WaitProcessed(ctx context.Context, fileID string, max time.Duration, onPoll func(status string, wait time.Duration)) (*openai.FileObject, error) {
	now, sleep := c.clock()
	start := now()
	wait := waitFirst
	for {
		f, err := c.GetFile(ctx, fileID)
		if err != nil {
			return nil, err
		}
		status, details := FileStatus(f)
		switch openai.FileObjectStatus(status) {
		case openai.FileObjectStatusProcessed, "":
			return f, nil
		case openai.FileObjectStatusError:
			return nil, &ProcessingError{FileID: fileID, Status: status, Details: details}
		}
		d := wait
		if max > 0 {
			left := max - now().Sub(start)
			if left <= 0 {
				return nil, &WaitTimeoutError{FileID: fileID, Status: status, Waited: now().Sub(start)}
			}
			d = min(d, left)
		}
		if onPoll != nil {
			onPoll(status, d)
		}
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		wait = min(time.Duration(float64(wait)*waitFactor), waitMax)
	}
}

// FileStatus is a file's status and status_details: deprecated in the API
// (the SDK marks them so), and still its only word on processing.
func FileStatus(f *openai.FileObject) (status, details string) {
	return string(f.Status), f.StatusDetails //nolint:staticcheck // SA1019: read on purpose, see above
}

// clock is the time source and the sleep of the polls: the real ones, or a
// test's.
func (c *Client) clock() (now func() time.Time, sleep func(context.Context, time.Duration) error) {
	now, sleep = c.now, c.sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return now, sleep
}

// sleepCtx waits d, or until ctx ends (and then returns its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
