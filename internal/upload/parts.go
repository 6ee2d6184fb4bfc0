package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/units"
)

// sendMissing uploads, in parallel, every part without an id in the journal.
func (r *run) sendMissing(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	r.mu.Lock()
	n := len(r.j.Parts)
	r.mu.Unlock()
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		r.mu.Lock()
		done := r.j.Parts[i].ID != ""
		r.mu.Unlock()
		if done {
			continue
		}
		g.Go(func() error { return r.sendPart(gctx, i) })
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// sendPart uploads part i with retries: transient failures are tried again;
// a 429 holds every worker back. The part is journaled the moment the
// server acknowledges it; its bytes are hashed only by the whole-file pass.
func (r *run) sendPart(ctx context.Context, i int) error {
	r.mu.Lock()
	p := r.j.Parts[i]
	r.mu.Unlock()
	return r.sendBody(ctx, i, p, r.file, p.Offset, func(err error) retry.Verdict { return r.verdict(ctx, err) }, r.changed)
}

// sendBody sends part i (p; its bytes at off in src) with retries, the
// rate cap and the events, and journals it when acknowledged. classify says
// what is worth a retry; changed (nil for a stream) tells a failure caused
// by the file changing under the upload.
func (r *run) sendBody(ctx context.Context, i int, p journal.Part, src io.ReaderAt, off int64, classify func(error) retry.Verdict, changed func() bool) error {
	r.mu.Lock()
	uploadID := r.j.UploadID
	r.mu.Unlock()
	body := api.Section(src, off, p.Length)
	body.Limiter = r.opts.Limiter
	op := retry.Op{
		Policy:   r.opts.Retry,
		Classify: classify,
		Progress: r.ackedParts,
		Gate:     &r.gate,
		OnRetry: func(a retry.Attempt) {
			r.retries.Add(1)
			e := Event{Type: EventRetry, Part: i + 1, Attempt: a.N, Wait: a.Wait, Error: retryReason(a.Err)}
			var se *api.StalledError
			if errors.As(a.Err, &se) {
				r.stalls.Add(1)
				e.Reason = "stalled"
			}
			r.emit(e)
		},
	}
	attempt := 0
	err := op.Do(ctx, func() error {
		// A connection of the run's budget for this attempt only: a part
		// waiting to retry holds none.
		if b := r.opts.Connections; b != nil {
			if err := b.Acquire(ctx, 1); err != nil {
				return err
			}
			defer b.Release(1)
		}
		attempt++
		// A Wire of its own for the attempt: what the server acknowledged
		// of it, asked for when progress is reported.
		w := new(api.Wire)
		attemptBody := body
		attemptBody.Wire = w
		r.mu.Lock()
		r.wires[i] = w
		r.mu.Unlock()
		r.emit(Event{Type: EventPartStarted, Part: i + 1, Attempt: attempt})
		part, err := r.u.Client.AddPart(ctx, uploadID, attemptBody)
		if err != nil {
			r.mu.Lock()
			r.endAttemptLocked(i)
			r.mu.Unlock()
			return err
		}
		return r.ack(i, part.ID)
	})
	if err == nil || ctx.Err() != nil {
		return err
	}
	if changed != nil && changed() {
		return &ChangedError{Path: r.path}
	}
	if how, ok := sessionEnded(err); ok {
		return &endedError{uploadID: uploadID, how: how, err: err}
	}
	return fmt.Errorf("part %d of %s (bytes %d-%d): %w", i+1, r.path, p.Offset, p.Offset+p.Length-1, err)
}

// ackedParts counts the acknowledged parts: the progress that resets the
// retry budget.
func (r *run) ackedParts() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, _ := r.j.Acked()
	return int64(n)
}

// verdict says whether a part's failure is worth another attempt. A file
// that changed is not: its bytes can no longer be the file's.
func (r *run) verdict(ctx context.Context, err error) retry.Verdict {
	if r.changed() {
		return retry.Verdict{}
	}
	return api.RetryVerdict(ctx, err)
}

// ack records an acknowledged part in the journal (durably) before the part
// counts as done — but the last one: complete's own record follows at once
// and holds it (a kill in between sends that part again, nothing worse),
// which spares a small file one journal write.
func (r *run) ack(i int, id string) error {
	r.mu.Lock()
	r.j.Parts[i].ID = id
	r.endAttemptLocked(i)
	var err error
	if n, _ := r.j.Acked(); n < len(r.j.Parts) {
		err = r.saveLocked()
	}
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save the resume journal: %w", err)
	}
	r.emit(Event{Type: EventPartDone, Part: i + 1})
	r.warnIfTooSlow(0)
	return nil
}

// endAttemptLocked retires part i's attempt: its bytes the server
// acknowledged (all of them, when it accepted the part) join moved.
func (r *run) endAttemptLocked(i int) {
	if w := r.wires[i]; w != nil {
		r.moved += w.Acked()
		r.wires[i] = nil
	}
}

// tickEvery is how often, while parts are in flight, progress is reported
// and the rate checked against the session's life; rateTicks is how many
// ticks back the rate of the bytes acknowledged is measured (a window, so
// that what the server's receive buffers took at once in the first moments
// does not count as the link's rate).
const (
	tickEvery = 500 * time.Millisecond
	rateTicks = 10
)

// tick reports progress and checks the rate every tickEvery until done is
// closed, so that the bytes on their way show, and a link too slow for the
// session is found from them, long before the first part is acknowledged.
// The rate is of the bytes the server acknowledged, the figure the
// progress reports.
func (r *run) tick(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	var samples []int64 // the bytes moved (see run.moved), one a tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
			samples = append(samples, r.report(Event{Type: EventProgress}))
			if n := len(samples); n > rateTicks {
				samples = samples[n-rateTicks-1:]
				r.warnIfTooSlow(float64(samples[rateTicks]-samples[0]) / (rateTicks * tickEvery.Seconds()))
			}
		}
	}
}

// warnIfTooSlow warns once when, at the rate seen so far, the rest will not
// arrive before the session expires. The rate is the larger of linkRate (the
// bytes the server acknowledged per second lately, in flight or not, 0 if
// not known yet) and the bytes of parts acknowledged per second since the
// start.
func (r *run) warnIfTooSlow(linkRate float64) {
	now := r.opts.now()
	elapsed := now.Sub(r.started)
	r.mu.Lock()
	_, done := r.j.Acked()
	acked := done - r.ackedBytesAtStart
	expires, id := r.j.ExpiresAt, r.j.UploadID
	rate := linkRate
	if acked > 0 && elapsed >= time.Second {
		rate = max(rate, float64(acked)/elapsed.Seconds())
	}
	if r.warned || rate <= 0 {
		r.mu.Unlock()
		return
	}
	eta := time.Duration(float64(r.fp.Size-done) / rate * float64(time.Second))
	left := time.Unix(expires, 0).Sub(now)
	tooSlow := eta > left
	r.warned = tooSlow
	r.mu.Unlock()
	if tooSlow {
		hint := "consider more --concurrency or a faster network"
		if lim := r.opts.Limiter; lim != nil && float64(lim.Limit()) < 1.1*rate {
			hint = "consider a higher --limit-rate" // the cap, not the link, is the bound
		}
		r.warn(0, "at %s/s the remaining %s need about %s, but upload %s expires in %s; %s",
			units.FormatSize(int64(rate)), units.FormatSize(r.fp.Size-done), eta.Round(time.Second), id, left.Round(time.Second), hint)
	}
}

// retryReason says briefly why an attempt failed: the status and the API's
// message, or the network's error, without the request's URL.
func retryReason(err error) string {
	if ae, ok := api.ErrorOf(err); ok {
		reason := fmt.Sprintf("%d %s", ae.StatusCode, http.StatusText(ae.StatusCode))
		if ae.Message != "" {
			reason += ": " + ae.Message
		}
		return reason
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
