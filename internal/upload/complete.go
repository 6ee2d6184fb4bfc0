package upload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/retry"
)

// endedError is a session that ended outside this run (cancelled, expired,
// completed without a file to be found, or unknown to the server).
type endedError struct {
	uploadID string
	how      string
	err      error
}

func (e *endedError) Error() string {
	return fmt.Sprintf("upload %s %s", e.uploadID, e.how)
}

func (e *endedError) Unwrap() error { return e.err }

// notPendingMessage matches the refusals of the servers seen so far for a
// session that is no longer pending, whatever their code.
var notPendingMessage = regexp.MustCompile(`(?i)\b(not pending|is (completed|cancelled|canceled|expired)|has expired|already (completed|cancelled|canceled))\b`)

// sessionEnded reports whether err says the session can take no more
// requests, and how it ended.
func sessionEnded(err error) (string, bool) {
	ae, ok := api.ErrorOf(err)
	if !ok {
		return "", false
	}
	switch {
	case ae.StatusCode == http.StatusNotFound:
		return "is unknown to the server (404)", true
	case ae.Code == "upload_expired":
		return "has expired", true
	case ae.Code == "upload_not_pending":
		return "is no longer pending", true
	case ae.StatusCode == http.StatusBadRequest && notPendingMessage.MatchString(ae.Message):
		return "is no longer pending", true
	}
	return "", false
}

// complete records that complete is about to be sent, sends it, and deals
// with its failures: a refused MD5 (repair), a lost answer or a session that
// is no longer pending (find the file it made).
func (r *run) complete(ctx context.Context, sum string) (*Result, error) {
	id, ids, err := r.completing(sum)
	if err != nil {
		// Without this record, a lost answer could not be told from a
		// session that ended elsewhere, and a rerun might make a second file.
		return nil, fmt.Errorf("save the resume journal before completing: %w", err)
	}
	up, err := r.u.Client.Complete(ctx, id, ids, sum)
	return r.afterComplete(ctx, id, up, err, func(err error) (*Result, error) { return r.repair(ctx, sum, err) })
}

// completing records in the journal (durably, for a file) that complete is
// sent with sum, and returns the session and its part ids in order: what
// complete sends, for Put and PutStream alike.
func (r *run) completing(sum string) (uploadID string, partIDs []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.j.CompleteSent, r.j.MD5 = true, sum
	err = r.saveLocked()
	partIDs = make([]string, len(r.j.Parts))
	for i, p := range r.j.Parts {
		partIDs[i] = p.ID
	}
	return r.j.UploadID, partIDs, err
}

// afterComplete turns complete's answer into the result: the file, or,
// after a failure, what can be made of it. A refused MD5 goes to mismatch;
// a lost answer, or a session no longer pending, sends it looking for the
// file the session made before anything else.
func (r *run) afterComplete(ctx context.Context, id string, up *api.Upload, err error, mismatch func(error) (*Result, error)) (*Result, error) {
	if err == nil {
		return r.completed(id, up.File.ID, api.RawJSON(up), false), nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	if ae, ok := api.ErrorOf(err); ok && ae.Code == "md5_mismatch" {
		return mismatch(err)
	}
	how, ended := sessionEnded(err)
	if !ended && api.Classify(ctx, err) != api.Transient {
		return nil, err
	}
	res, ferr := r.recoverFile(ctx)
	switch {
	case res != nil:
		return res, nil
	case ferr != nil && ctx.Err() != nil:
		return nil, ferr
	case ended:
		return nil, &endedError{uploadID: id, how: how + " and no file it made was found", err: err}
	}
	return nil, err
}

// completed is the end of a successful upload: Options.Completed is told,
// then the journal goes.
func (r *run) completed(uploadID, fileID string, upload json.RawMessage, recovered bool) *Result {
	r.mu.Lock()
	parts, bytes := r.j.Acked()
	sum := r.j.MD5
	r.mu.Unlock()
	res := &Result{File: r.path, UploadID: uploadID, FileID: fileID, Size: r.fp.Size, ModTime: r.fp.ModTime, MD5: sum, Upload: upload, Recovered: recovered,
		PartsSent: parts - r.ackedAtStart, BytesSent: bytes - r.ackedBytesAtStart,
		Retries: int(r.retries.Load()), Stalls: int(r.stalls.Load())}
	if r.opts.Completed != nil {
		if err := r.opts.Completed(res); err != nil {
			r.warn(0, "%v", err)
		}
	}
	if r.opts.Journal != nil {
		_ = r.opts.Journal.Remove(r.fp.Key())
	}
	r.emit(Event{Type: EventCompleted, FileID: fileID})
	return res
}

// recoverFile looks in the files list for the file this session made: same
// filename, size and purpose, created at or after the session. A listing can
// lag behind a complete, so it looks a few times. It returns nil, nil when
// there is none.
func (r *run) recoverFile(ctx context.Context) (*Result, error) {
	r.mu.Lock()
	name, created, id := r.j.Filename, r.j.UploadCreatedAt, r.j.UploadID
	r.mu.Unlock()
	var lastErr error
	for attempt := range 3 {
		if attempt > 0 {
			if err := retry.Sleep(ctx, time.Duration(attempt)*time.Second); err != nil {
				return nil, err
			}
		}
		files, err := r.u.Client.FindFiles(ctx, r.opts.Purpose, name, r.fp.Size, created)
		if err != nil {
			lastErr = err
			continue
		}
		if len(files) == 0 {
			continue
		}
		f := files[0]
		if len(files) > 1 {
			r.warn(0, "%d files named %s of %d bytes were made since upload %s began; taking the first, %s", len(files), name, r.fp.Size, id, f.ID)
		}
		r.warn(0, "the answer to complete upload %s was lost; the server made file %s, which is the result", id, f.ID)
		up, _ := json.Marshal(map[string]any{
			"id": id, "object": "upload", "status": "completed", "filename": name, "bytes": r.fp.Size,
			"purpose": r.opts.Purpose, "created_at": created, "file": api.RawJSON(&f),
		})
		return r.completed(id, f.ID, up, true), nil
	}
	return nil, lastErr
}

// repair handles a complete refused because the parts' bytes do not add up
// to the file's MD5. If the file's bytes changed under the upload, that is
// the answer. Otherwise some part reached the server damaged; the API says
// nothing of which, so every part is sent again, once, and the upload
// completed again.
func (r *run) repair(ctx context.Context, sum string, refused error) (*Result, error) {
	if r.changed() {
		return nil, &ChangedError{Path: r.path}
	}
	bad, err := r.mismatched(ctx)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, &ChangedError{Path: r.path}
	}
	r.mu.Lock()
	again := !r.repaired
	r.repaired = true
	n := len(r.j.Parts)
	if again {
		for i := range r.j.Parts {
			r.j.Parts[i].ID = ""
		}
		r.j.CompleteSent = false
		err = r.saveLocked()
	}
	r.mu.Unlock()
	if !again {
		return nil, refused
	}
	if err != nil {
		return nil, fmt.Errorf("save the resume journal: %w", err)
	}
	r.warn(0, "the server's parts do not add up to the file's MD5 (a part was damaged on the way); sending all %d parts again", n)
	if err := r.sendMissing(ctx); err != nil {
		r.saveJournal()
		return nil, err
	}
	if err := r.checkUnchanged(); err != nil {
		return nil, err
	}
	return r.complete(ctx, sum)
}

// mismatched checks every part whose MD5 states are known against the file
// and returns the indexes of those whose bytes are no longer what the
// whole-file pass saw. Parts without known states are not returned.
func (r *run) mismatched(ctx context.Context) ([]int, error) {
	r.mu.Lock()
	parts := append(r.j.Parts[:0:0], r.j.Parts...)
	r.mu.Unlock()
	if r.hasher != nil {
		_, _, chain := r.hasher.snapshot()
		for i := range parts {
			if i < len(chain) && chain[i] != nil {
				parts[i].MD5State = chain[i]
			}
		}
	}
	bad := make([]bool, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for i, p := range parts {
		var before []byte
		if i > 0 {
			before = parts[i-1].MD5State
			if before == nil {
				continue
			}
		}
		if p.MD5State == nil {
			continue
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			ok, err := checkPart(r.file, p.Offset, p.Length, before, p.MD5State)
			bad[i] = err != nil || !ok
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []int
	for i, b := range bad {
		if b {
			out = append(out, i)
		}
	}
	return out, nil
}
