package upload

import (
	"context"
	"errors"
	"time"

	"github.com/uploads-dev/uploads/internal/journal"
)

// resume loads the journal of this file, if any, and decides whether its
// session can go on. It reports true when r.j is a session to continue. It
// asks the server nothing: the API has no way to read a session, so the
// journal is the record, and a session that ended elsewhere shows itself
// at the first part or complete (see upload).
func (r *run) resume(ctx context.Context) (bool, error) {
	store := r.opts.Journal
	if store == nil {
		return false, nil
	}
	key := r.fp.Key()
	r.dropStale(ctx, key)
	j, err := store.Load(key)
	if errors.Is(err, journal.ErrNotFound) {
		return false, nil
	}
	if err != nil && !r.opts.Restart {
		return false, err
	}
	if r.opts.Restart {
		if j != nil {
			r.warn(0, "--restart: upload %s is cancelled and not resumed; starting over", j.UploadID)
			r.cancelSession(ctx, j.UploadID)
		}
		return false, store.Remove(key)
	}
	// A session whose complete was sent may have completed before it
	// expired: complete again, and the file is found if it exists.
	if !j.CompleteSent && !r.opts.now().Add(resumeMargin).Before(time.Unix(j.ExpiresAt, 0)) {
		r.warn(0, "upload %s expired at %s (or expires within %s); starting over", j.UploadID,
			time.Unix(j.ExpiresAt, 0).UTC().Format(time.RFC3339), resumeMargin)
		return false, store.Remove(key)
	}
	if r.opts.PartSize != 0 && r.opts.PartSize != j.PartSize {
		r.warn(0, "resuming upload %s with its part size of %d bytes; the part size asked for (%d) applies to new uploads (--restart starts over with it)",
			j.UploadID, j.PartSize, r.opts.PartSize)
	}
	r.mu.Lock()
	r.j = j
	r.mu.Unlock()
	if r.opts.Verify {
		if err := r.verify(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// dropStale removes journals of the same file, purpose and server whose
// size or modification time differ: the file changed since they were
// written, so their sessions can never complete; they are cancelled.
func (r *run) dropStale(ctx context.Context, key string) {
	entries, err := r.opts.Journal.ListFile(r.fp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Journal == nil || e.Key == key || !e.Journal.Fingerprint.SameFile(r.fp) {
			continue
		}
		r.warn(0, "%s changed (size or modification time) since upload %s was interrupted; that upload is cancelled and this one starts over",
			r.path, e.Journal.UploadID)
		r.cancelSession(ctx, e.Journal.UploadID)
		_ = r.opts.Journal.Remove(e.Key)
	}
}

// verify re-reads each acknowledged part and forgets those whose bytes are
// not what the whole-file MD5 saw, or that it never saw; the MD5 goes back
// to before the first part that differs.
func (r *run) verify(ctx context.Context) error {
	bad, err := r.mismatched(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	j := r.j
	first := len(j.Parts)
	if len(bad) > 0 {
		first = bad[0]
	}
	var unseen []int
	for i, p := range j.Parts {
		if p.ID != "" && (p.MD5State == nil || (i > 0 && j.Parts[i-1].MD5State == nil)) {
			unseen = append(unseen, i)
		}
	}
	for _, i := range append(bad, unseen...) {
		j.Parts[i].ID = ""
	}
	if first < len(j.Parts) {
		for i := first; i < len(j.Parts); i++ {
			j.Parts[i].MD5State = nil
		}
		j.MD5State, j.MD5Offset, j.MD5, j.CompleteSent = nil, 0, "", false
		if first > 0 {
			j.MD5State, j.MD5Offset = j.Parts[first-1].MD5State, j.Parts[first].Offset
		}
	}
	r.mu.Unlock()
	for _, i := range bad {
		r.warn(i+1, "--verify: part %d no longer matches the file; sending it again", i+1)
	}
	for _, i := range unseen {
		r.warn(i+1, "--verify: part %d was sent before the file's MD5 reached it, so it cannot be checked; sending it again", i+1)
	}
	return nil
}
