package upload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/journal"
)

// resume loads the journal of this file, if any, and decides whether its
// session can go on. It reports true when r.j is a session to continue.
func (r *run) resume() (bool, error) {
	store := r.u.Opts.Journal
	if store == nil {
		return false, nil
	}
	key := r.fp.Key()
	r.dropStale(key)
	j, err := store.Load(key)
	if errors.Is(err, journal.ErrNotFound) {
		return false, nil
	}
	if err != nil && !r.u.Opts.Restart {
		return false, err
	}
	if r.u.Opts.Restart {
		if j != nil {
			r.emitLocked(Event{Type: EventWarning, Message: fmt.Sprintf("--restart: not resuming upload %s; starting over", j.UploadID)})
		}
		return false, store.Remove(key)
	}
	if reason := r.checkSession(j); reason != "" {
		r.emitLocked(Event{Type: EventWarning, Message: reason + "; starting over"})
		return false, store.Remove(key)
	}
	if err := r.checkServerParts(j); err != nil {
		return false, err
	}
	if r.u.Opts.Verify {
		r.verify(j)
	}
	r.j = j
	return true, nil
}

// dropStale removes journals of the same file, purpose and server whose
// size or modification time differ: the file changed since they were
// written, so their sessions can never complete; they are cancelled.
func (r *run) dropStale(key string) {
	entries, err := r.u.Opts.Journal.List()
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Journal == nil || e.Key == key {
			continue
		}
		fp := e.Journal.Fingerprint
		if fp.Path == r.fp.Path && fp.Purpose == r.fp.Purpose && fp.BaseURL == r.fp.BaseURL {
			r.emitLocked(Event{Type: EventWarning, Message: fmt.Sprintf(
				"%s changed since upload %s was interrupted; that upload is abandoned and this one starts over", r.path, e.Journal.UploadID)})
			ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
			_, _ = r.u.Client.Cancel(ctx, e.Journal.UploadID)
			cancel()
			_ = r.u.Opts.Journal.Remove(e.Key)
		}
	}
}

// checkSession returns why j's session cannot be resumed, or "".
func (r *run) checkSession(j *journal.Journal) string {
	if time.Now().Add(resumeMargin).Unix() >= j.ExpiresAt {
		return fmt.Sprintf("upload %s expired at %s", j.UploadID, time.Unix(j.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	up, err := r.u.Client.GetUpload(r.ctx, j.UploadID)
	if err != nil {
		// A server without the GET /uploads/{id} extension: trust the journal.
		if ae, ok := api.ErrorOf(err); ok && ae.StatusCode == 404 && ae.Code == "not_found" {
			return fmt.Sprintf("the server no longer knows upload %s", j.UploadID)
		}
		return ""
	}
	if up.Status != "pending" {
		return fmt.Sprintf("upload %s is %s", j.UploadID, up.Status)
	}
	if up.ExpiresAt > 0 {
		j.ExpiresAt = up.ExpiresAt
		if time.Now().Add(resumeMargin).Unix() >= j.ExpiresAt {
			return fmt.Sprintf("upload %s expires at %s, too soon to finish", j.UploadID, time.Unix(j.ExpiresAt, 0).UTC().Format(time.RFC3339))
		}
	}
	return ""
}

// checkServerParts compares the journal with the parts the server lists
// (where it can): a journaled part the server does not have, or has with
// other bytes, is sent again.
func (r *run) checkServerParts(j *journal.Journal) error {
	parts, err := r.u.Client.ListParts(r.ctx, j.UploadID)
	if err != nil {
		if api.Classify(r.ctx, err) == api.Canceled {
			return err
		}
		return nil // no listing on this server: trust the journal
	}
	have := make(map[string]string, len(parts))
	for _, p := range parts {
		have[p.ID] = p.MD5
	}
	for i, p := range j.Parts {
		if p.ID == "" {
			continue
		}
		if sum, ok := have[p.ID]; !ok || (sum != "" && sum != p.MD5) {
			r.emitLocked(Event{Type: EventWarning, Part: i + 1, Message: fmt.Sprintf("the server does not hold part %d as journaled; sending it again", i+1)})
			j.Parts[i].ID, j.Parts[i].MD5 = "", ""
		}
	}
	return nil
}

// verify re-reads each acknowledged part and forgets those whose bytes no
// longer match their journaled MD5.
func (r *run) verify(j *journal.Journal) {
	for _, i := range r.mismatched(j) {
		r.emitLocked(Event{Type: EventWarning, Part: i + 1, Message: fmt.Sprintf("--verify: part %d no longer matches its journaled MD5; sending it again", i+1)})
		j.Parts[i].ID, j.Parts[i].MD5 = "", ""
	}
}

// mismatched re-reads each acknowledged part of j and returns the indexes of
// those whose bytes (or whose reading) do not match their journaled MD5.
func (r *run) mismatched(j *journal.Journal) []int {
	var out []int
	for i, p := range j.Parts {
		if p.ID == "" {
			continue
		}
		if sum, err := partMD5(r.file, p.Offset, p.Length); err != nil || sum != p.MD5 {
			out = append(out, i)
		}
	}
	return out
}
