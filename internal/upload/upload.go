// Package upload takes a file to a completed File through the Uploads API:
// it cuts the file into parts, sends them in parallel straight from disk
// (never holding a part in memory), retries transient failures, computes the
// whole file's MD5 in one sequential pass while the parts upload, keeps a
// crash-safe journal so that an interrupted upload resumes where it stopped,
// and completes with the ordered part ids and the MD5.
//
// It knows nothing of the command line: progress goes to a Reporter.
package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/mimetype"
	"github.com/uploads-dev/uploads/internal/retry"
)

// Limits of the Uploads API.
const (
	MaxFileSize = 8 << 30  // 8 GiB
	MaxPartSize = 64 << 20 // 64 MiB
)

// resumeMargin: a session closer than this to its expiry is not resumed.
const resumeMargin = 2 * time.Minute

// Options tune an upload.
type Options struct {
	Purpose      string
	PartSize     int64
	Concurrency  int
	ExpiresAfter int64  // seconds; 0 for none
	MimeType     string // "" to detect
	Retry        retry.Policy
	// Journal, when set, makes the upload resumable.
	Journal *journal.Store
	// Restart ignores (and replaces) an existing journal.
	Restart bool
	// Verify re-reads acknowledged parts on resume and re-sends those whose
	// bytes no longer match the journal.
	Verify bool
	// CancelOnFailure cancels the session (and drops the journal) when the
	// upload fails or is interrupted, instead of keeping it for a resume.
	CancelOnFailure bool
	Report          Reporter
}

// Check validates the options before any request.
func (o Options) Check() error {
	switch {
	case o.Purpose == "":
		return errors.New("a purpose is required (--purpose), for example video")
	case o.PartSize <= 0 || o.PartSize > MaxPartSize:
		return fmt.Errorf("part size %d is out of range: it must be more than 0 and at most 64 MiB (67108864 bytes)", o.PartSize)
	case o.Concurrency < 1:
		return fmt.Errorf("concurrency %d must be at least 1", o.Concurrency)
	case o.Retry.Retries < 0:
		return fmt.Errorf("retries %d must not be negative", o.Retry.Retries)
	}
	return nil
}

// Result is a completed upload.
type Result struct {
	File     string
	UploadID string
	FileID   string
	// Upload is the completed Upload object as the API returned it.
	Upload json.RawMessage
	// Resumed tells whether a journal was used; PartsSent and BytesSent
	// count what this run sent (acknowledged), not what an earlier run did.
	Resumed   bool
	PartsSent int
	BytesSent int64
	Retries   int
}

// FailedError is an upload that did not complete. Kept says whether the
// session and its journal were kept, so that running again resumes it.
type FailedError struct {
	File      string
	UploadID  string
	Journal   string
	Kept      bool
	PartsDone int
	Parts     int
	Err       error
}

func (e *FailedError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *FailedError) Unwrap() error { return e.Err }

var errStopped = errors.New("stopped")

// Uploader uploads files with one client.
type Uploader struct {
	Client *api.Client
	Opts   Options
}

// run is the state of one file's upload.
type run struct {
	u       *Uploader
	ctx     context.Context
	file    *os.File
	path    string
	fp      journal.Fingerprint
	hasher  *fileHasher
	gate    retry.Gate
	started time.Time

	mu        sync.Mutex // guards j, the counters below and journal writes
	j         *journal.Journal
	partsDone int
	bytesDone int64
	sentParts int
	sentBytes int64
	retries   int
	warned    bool
	acks      atomic.Int64
	serverMD5 atomic.Bool // the server reported the MD5 of a part it stored
}

// Put uploads one file.
func (u *Uploader) Put(ctx context.Context, path string) (*Result, error) {
	if err := u.Opts.Check(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", path)
	case st.Size() == 0:
		return nil, fmt.Errorf("%s is empty: the Uploads API takes files of 1 byte to 8 GiB", path)
	case st.Size() > MaxFileSize:
		return nil, fmt.Errorf("%s is %d bytes, over the 8 GiB (8589934592 bytes) the Uploads API accepts", path, st.Size())
	}
	r := &run{u: u, ctx: ctx, file: f, path: path, started: time.Now(), fp: journal.Fingerprint{
		Path: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Purpose: u.Opts.Purpose,
		PartSize: u.Opts.PartSize, BaseURL: u.Client.BaseURL(),
	}}
	return r.do()
}

func (r *run) emit(e Event) {
	if r.u.Opts.Report == nil {
		return
	}
	e.File = r.path
	if r.j != nil {
		e.UploadID = r.j.UploadID
		e.PartsTotal = len(r.j.Parts)
	}
	e.BytesTotal = r.fp.Size
	e.BytesDone, e.PartsDone, e.Retries = r.bytesDone, r.partsDone, r.retries
	r.u.Opts.Report(e)
}

func (r *run) emitLocked(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emit(e)
}

func (r *run) do() (*Result, error) {
	resumed, err := r.resume()
	if err != nil {
		return nil, err
	}
	if !resumed {
		if err := r.create(); err != nil {
			return nil, err
		}
	}
	for _, p := range r.j.Parts {
		if p.ID != "" {
			r.partsDone++
			r.bytesDone += p.Length
		}
	}
	r.emitLocked(Event{Type: EventStart, Resumed: resumed})
	res, err := r.send()
	if err != nil {
		return nil, r.failed(err)
	}
	res.Resumed = resumed
	return res, nil
}

// create opens a new session and writes its journal before any part.
func (r *run) create() error {
	mt := r.u.Opts.MimeType
	if mt == "" {
		var err error
		if mt, err = mimetype.DetectFile(r.fp.Path); err != nil {
			return fmt.Errorf("detect the MIME type of %s: %w (pass --mime-type)", r.path, err)
		}
	}
	name := filepath.Base(r.fp.Path)
	up, err := r.u.Client.CreateUpload(r.ctx, api.NewUpload{Filename: name, Purpose: r.u.Opts.Purpose, Bytes: r.fp.Size,
		MimeType: mt, ExpiresAfter: r.u.Opts.ExpiresAfter})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	r.j = &journal.Journal{Fingerprint: r.fp, UploadID: up.ID, Filename: name, MimeType: mt, ExpiresAt: up.ExpiresAt,
		CreatedAt: now, UpdatedAt: now, Parts: journal.Plan(r.fp.Size, r.fp.PartSize)}
	if r.u.Opts.Journal != nil {
		if err := r.u.Opts.Journal.Save(r.j); err != nil {
			return err
		}
	}
	return nil
}

// send uploads the parts not yet acknowledged, hashes the file meanwhile, and
// completes.
func (r *run) send() (*Result, error) {
	state, offset := r.j.MD5State, r.j.MD5Offset
	if r.u.Opts.Verify {
		state, offset = nil, 0
	}
	ends := make([]int64, len(r.j.Parts))
	for i, p := range r.j.Parts {
		ends[i] = p.Offset + p.Length
	}
	r.hasher = newFileHasher(r.fp.Size, state, offset, ends)
	stopHash := make(chan struct{})
	type hashResult struct {
		sum string
		err error
	}
	hashed := make(chan hashResult, 1)
	go func() {
		sum, err := r.hasher.run(r.file, stopHash)
		hashed <- hashResult{sum, err}
	}()

	err := r.sendMissing()
	if err != nil {
		close(stopHash)
		<-hashed
		r.saveJournal()
		return nil, err
	}
	h := <-hashed
	if h.err != nil {
		return nil, h.err
	}
	if err := r.checkUnchanged(); err != nil {
		return nil, err
	}
	up, err := r.complete(h.sum)
	if ae, ok := api.ErrorOf(err); ok && ae.Code == "md5_mismatch" {
		up, err = r.repair(h.sum, err)
	}
	if err != nil {
		return nil, err
	}
	if r.u.Opts.Journal != nil {
		_ = r.u.Opts.Journal.Remove(r.fp.Key())
	}
	res := &Result{File: r.path, UploadID: up.ID, FileID: up.File.ID, Upload: api.RawJSON(up),
		PartsSent: r.sentParts, BytesSent: r.sentBytes, Retries: r.retries}
	r.emitLocked(Event{Type: EventCompleted, FileID: up.File.ID})
	return res, nil
}

// sendMissing uploads, in parallel, every part without an id in the journal.
func (r *run) sendMissing() error {
	g, gctx := errgroup.WithContext(r.ctx)
	g.SetLimit(r.u.Opts.Concurrency)
	var late errgroup.Group // parts' own MD5s, where the server reports none
	late.SetLimit(r.u.Opts.Concurrency)
	for i := range r.j.Parts {
		if gctx.Err() != nil {
			break
		}
		r.mu.Lock()
		done := r.j.Parts[i].ID != ""
		r.mu.Unlock()
		if done {
			continue
		}
		g.Go(func() error { return r.sendPart(gctx, i, &late) })
	}
	err := g.Wait()
	if lerr := late.Wait(); err == nil {
		err = lerr
	}
	if err == nil {
		err = r.ctx.Err()
	}
	return err
}

// complete completes the session with the journal's parts in order. To a
// server that reported what it stored for the parts (the bundled server), it
// also sends the file's MD5 state after each part, so that the server can
// check the MD5 of the parts all at once (the X-MD5-Chain extension).
func (r *run) complete(sum string) (*api.Upload, error) {
	ids := make([]string, len(r.j.Parts))
	for i, p := range r.j.Parts {
		ids[i] = p.ID
	}
	var chain [][]byte
	if r.serverMD5.Load() {
		chain = r.hasher.md5Chain()
	}
	return r.u.Client.CompleteChained(r.ctx, r.j.UploadID, ids, sum, chain)
}

// repair handles a complete refused because the parts' bytes do not add up
// to the file's MD5: some part arrived damaged. It re-reads each part of the
// file, compares it with the MD5 the server reported for what it stored (as
// journaled), sends again the parts that differ (or cannot be read: sending
// them will say why), and completes once more. If every part matches, the
// server's parts are what was sent and the refusal stands.
func (r *run) repair(sum string, refused error) (*api.Upload, error) {
	damaged := r.mismatched(r.j)
	if len(damaged) == 0 {
		return nil, refused
	}
	r.mu.Lock()
	for _, i := range damaged {
		r.emit(Event{Type: EventWarning, Part: i + 1, Message: fmt.Sprintf(
			"part %d arrived damaged (the server stored bytes with MD5 %s, the file has other bytes there); sending it again", i+1, r.j.Parts[i].MD5)})
		r.j.Parts[i].ID, r.j.Parts[i].MD5 = "", ""
		r.partsDone--
		r.bytesDone -= r.j.Parts[i].Length
	}
	err := r.saveLocked()
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("save the resume journal: %w", err)
	}
	if err := r.sendMissing(); err != nil {
		r.saveJournal()
		return nil, err
	}
	if err := r.checkUnchanged(); err != nil {
		return nil, err
	}
	return r.complete(sum)
}

// checkUnchanged refuses to complete if the file changed since the start.
func (r *run) checkUnchanged() error {
	st, err := os.Stat(r.fp.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	if st.Size() != r.fp.Size || st.ModTime().UnixNano() != r.fp.ModTime {
		return &changedError{path: r.path}
	}
	return nil
}

type changedError struct{ path string }

func (e *changedError) Error() string {
	return fmt.Sprintf("%s changed while it was being uploaded (its size or modification time differs); the upload was not completed. Run the command again to upload the new content", e.path)
}

// failed decides what to keep after err: the session and journal for a
// resume, unless the failure makes them useless or --cancel-on-failure.
func (r *run) failed(err error) error {
	fe := &FailedError{File: r.path, Err: err}
	if r.j == nil {
		return fe
	}
	fe.UploadID, fe.Parts = r.j.UploadID, len(r.j.Parts)
	r.mu.Lock()
	fe.PartsDone = r.partsDone
	r.mu.Unlock()
	useless := false
	var ce *changedError
	if errors.As(err, &ce) {
		useless = true
	}
	if ae, ok := api.ErrorOf(err); ok && (ae.Code == "md5_mismatch" || ae.Code == "upload_expired" || ae.Code == "upload_not_pending") {
		useless = true
	}
	if r.u.Opts.CancelOnFailure || useless {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
		_, _ = r.u.Client.Cancel(cctx, r.j.UploadID)
		cancel()
		if r.u.Opts.Journal != nil {
			_ = r.u.Opts.Journal.Remove(r.fp.Key())
		}
		return fe
	}
	if r.u.Opts.Journal != nil {
		fe.Journal = r.u.Opts.Journal.Path(r.fp.Key())
		fe.Kept = true
	}
	return fe
}

// saveJournal writes the journal with the hasher's latest state.
func (r *run) saveJournal() {
	if r.u.Opts.Journal == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.saveLocked()
}

func (r *run) saveLocked() error {
	if r.u.Opts.Journal == nil {
		return nil
	}
	if r.hasher != nil {
		r.j.MD5State, r.j.MD5Offset = r.hasher.snapshot()
	}
	r.j.UpdatedAt = time.Now().UTC()
	return r.u.Opts.Journal.Save(r.j)
}
