package upload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/retry"
)

// sendPart uploads part i with retries: transient failures are tried again;
// a 429 holds every worker back.
//
// The part's MD5 recorded in the journal is the one the server reports for
// what it stored (the bundled server's extension), so the bytes are not
// hashed a second time here. A server that reports none (the real API) gets
// the MD5 of the file's bytes, read again once the part is acknowledged: in
// late, so that the worker starts its next part meanwhile; the part counts
// as done when that hash is in the journal. Either way a part that arrived
// damaged is caught by the whole file's MD5 at complete, and then found and
// sent again (see repair).
func (r *run) sendPart(ctx context.Context, i int, late *errgroup.Group) error {
	r.mu.Lock()
	p := r.j.Parts[i]
	r.mu.Unlock()
	body := api.PartBody{Size: p.Length, Number: i + 1, Replayable: true, Open: func() (io.Reader, error) {
		return io.NewSectionReader(r.file, p.Offset, p.Length), nil
	}}
	op := retry.Op{
		Policy:   r.u.Opts.Retry,
		Classify: func(err error) retry.Verdict { return verdict(ctx, err) },
		Progress: r.acks.Load,
		Gate:     &r.gate,
		OnRetry: func(a retry.Attempt) {
			r.mu.Lock()
			r.retries++
			r.emit(Event{Type: EventRetry, Part: i + 1, Attempt: a.N, Wait: a.Wait, Error: a.Err.Error()})
			r.mu.Unlock()
		},
	}
	attempt := 0
	err := op.Do(ctx, func() error {
		attempt++
		r.emitLocked(Event{Type: EventPartStarted, Part: i + 1, Attempt: attempt})
		part, err := r.u.Client.AddPart(ctx, r.j.UploadID, body)
		if err != nil {
			return err
		}
		if part.MD5 != "" {
			r.serverMD5.Store(true)
			return r.ack(i, part.ID, part.MD5)
		}
		late.Go(func() error {
			sum, err := partMD5(r.file, p.Offset, p.Length)
			if err != nil {
				return fmt.Errorf("read part %d of %s for its MD5: %w", i+1, r.path, err)
			}
			return r.ack(i, part.ID, sum)
		})
		return nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("part %d of %s (bytes %d-%d): %w", i+1, r.path, p.Offset, p.Offset+p.Length-1, err)
	}
	return err
}

// verdict says whether a part's failure is worth another attempt.
func verdict(ctx context.Context, err error) retry.Verdict {
	if api.Classify(ctx, err) != api.Transient {
		return retry.Verdict{}
	}
	after, ok := api.RetryAfter(err)
	if ae, isAPI := api.ErrorOf(err); isAPI && ae.StatusCode == http.StatusTooManyRequests && !ok {
		after = time.Second // slow everyone down even without Retry-After
	}
	return retry.Verdict{Retry: true, After: after}
}

// ack records an acknowledged part in the journal (durably) before the part
// counts as done.
func (r *run) ack(i int, id, sum string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.j.Parts[i].ID, r.j.Parts[i].MD5 = id, sum
	if err := r.saveLocked(); err != nil {
		return fmt.Errorf("save the resume journal: %w", err)
	}
	n := r.j.Parts[i].Length
	r.partsDone++
	r.bytesDone += n
	r.sentParts++
	r.sentBytes += n
	r.acks.Add(1)
	r.emit(Event{Type: EventPartDone, Part: i + 1})
	r.warnIfTooSlow()
	return nil
}

// warnIfTooSlow warns once when, at the rate seen so far, the rest will not
// arrive before the session expires.
func (r *run) warnIfTooSlow() {
	elapsed := time.Since(r.started)
	if r.warned || r.sentBytes == 0 || elapsed < time.Second {
		return
	}
	rate := float64(r.sentBytes) / elapsed.Seconds()
	eta := time.Duration(float64(r.fp.Size-r.bytesDone) / rate * float64(time.Second))
	left := time.Until(time.Unix(r.j.ExpiresAt, 0))
	if eta > left {
		r.warned = true
		r.emit(Event{Type: EventWarning, Message: fmt.Sprintf(
			"at %.1f MiB/s the remaining %d MiB need about %s, but upload %s expires in %s; consider more --concurrency",
			rate/(1<<20), (r.fp.Size-r.bytesDone)>>20, eta.Round(time.Second), r.j.UploadID, left.Round(time.Second))})
	}
}
