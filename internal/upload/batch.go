package upload

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/check"
	"github.com/uploads-dev/uploads/internal/runjournal"
	"github.com/uploads-dev/uploads/internal/seen"
)

// Planned is one file of a batch as planned before the first request.
type Planned struct {
	Path string
	Size int64
	// MimeType is the type the plan chose: create declares it as is.
	MimeType string
	// Refused is the verdict of the checks that need no content (nil: they
	// pass): the file fails with a *RefusedError before anything is sent.
	Refused error
	// MD5 is the file's MD5 (hex) once Inspect has read it.
	MD5 string
}

// RefusedError is a file the checks before sending refused: the service
// would refuse it too.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Batch says how a batch of files is uploaded, beyond the Uploader's
// Options (which apply to every file).
type Batch struct {
	// Jobs is how many files are in flight at once; 0: as many as the
	// connections (Options.Concurrency), which every file's parts share.
	Jobs int
	// Check runs the checks that read the content (JSONL lines) before a
	// file is sent.
	Check bool
	// Index, when set, records every upload; with SkipExisting, a file
	// whose content it knows, and the server still has, is not sent.
	Index        *seen.Index
	SkipExisting bool
	// Wait waits, after complete, until each file is processed (at most
	// WaitTimeout each).
	Wait        bool
	WaitTimeout time.Duration
	// Run, when set, is the journal of this run: each completed file is
	// recorded there, and Restored (by file, as Run.Done found them) are
	// not sent again.
	Run      *runjournal.Run
	Restored []*runjournal.Record
}

// Outcome is what became of one file of a batch.
type Outcome struct {
	Index int
	Path  string
	// Result is the file uploaded now, or by an earlier attempt of the run
	// (Earlier).
	Result  *Result
	Earlier bool
	// Existing is the file that already holds this content (SkipExisting):
	// nothing was sent.
	Existing *Existing
	// Err is why the file did not complete; Interrupted when the run was
	// stopped (ctx) while it was in flight.
	Err         error
	Interrupted bool
	// NotStarted is a file the run was stopped before.
	NotStarted bool
}

// Existing is a file on the server with the same content.
type Existing struct {
	FileID, MD5 string
	Size        int64
	// File is the File object as the server returned it.
	File json.RawMessage
}

// Summary counts the outcomes of a batch.
type Summary struct {
	Files, Completed, Skipped, Failed, Interrupted, NotStarted, Retries int
	Sent                                                                int64
	Took                                                                time.Duration
}

// RunBatch uploads files, Batch.Jobs at a time, their parts drawing on one
// budget of Options.Concurrency connections, and calls ended (one call at a
// time, in the order files end) with each outcome. An error from ended (a
// manifest that cannot be written) stops the batch and is returned.
func (u *Uploader) RunBatch(ctx context.Context, files []Planned, b Batch, ended func(Outcome) error) (Summary, error) {
	up := *u
	jobs := b.Jobs
	if len(files) > 1 {
		up.Opts.Connections = semaphore.NewWeighted(int64(up.Opts.Concurrency))
		if jobs == 0 {
			jobs = up.Opts.Concurrency
		}
	}
	if b.Run != nil {
		up.Opts.Completed = func(res *Result) error {
			abs, err := filepath.Abs(res.File)
			if err != nil {
				return err
			}
			return b.Run.Add(runjournal.Record{Path: abs, Size: res.Size, ModTime: res.ModTime, MD5: res.MD5,
				UploadID: res.UploadID, FileID: res.FileID, Upload: res.Upload})
		}
	}
	s := Summary{Files: len(files)}
	began := time.Now()
	var mu sync.Mutex
	end := func(o Outcome) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case o.NotStarted:
			s.NotStarted++
		case o.Interrupted:
			s.Interrupted++
		case o.Err != nil:
			s.Failed++
		case o.Existing != nil:
			s.Skipped++
		default:
			s.Completed++
			if !o.Earlier {
				s.Sent += o.Result.BytesSent
				s.Retries += o.Result.Retries
			}
		}
		return ended(o)
	}
	var in *inspector
	if len(files) > 1 {
		restored := func(i int) bool { return i < len(b.Restored) && b.Restored[i] != nil }
		streamed := b.Check && check.Streamed(up.Opts.Purpose)
		onePart := func(i int) bool { return up.Opts.PartSizeFor(files[i].Size) >= files[i].Size }
		in = startInspector(ctx, files, restored, func(i int) bool { return b.SkipExisting || streamed && onePart(i) }, onePart,
			up.Opts.Purpose, b.Check, 2*max(jobs, 1))
		defer in.close()
	}
	g := errgroup.Group{}
	g.SetLimit(max(jobs, 1))
	for i := range files {
		pf := &files[i]
		g.Go(func() error {
			o := Outcome{Index: i, Path: pf.Path}
			switch {
			case ctx.Err() != nil:
				o.NotStarted = true // stopped before this file began: not a failure of its own
			case i < len(b.Restored) && b.Restored[i] != nil:
				rec := b.Restored[i]
				o.Earlier = true
				o.Result = &Result{File: pf.Path, UploadID: rec.UploadID, FileID: rec.FileID, Size: rec.Size, MD5: rec.MD5, Upload: rec.Upload}
			default:
				o.Result, o.Existing, o.Err = up.one(ctx, i, pf, b, in)
				o.Interrupted = o.Err != nil && api.Classify(ctx, o.Err) == api.Canceled
			}
			return end(o)
		})
	}
	err := g.Wait()
	s.Took = time.Since(began)
	return s, err
}

// one uploads one planned file (the ith of the batch): its checks (done
// by in, the batch's inspector, when there is one), then (SkipExisting)
// the search for the same content uploaded before, then the upload, the
// record in the index, and (Wait) the wait for the file to be processed.
func (u *Uploader) one(ctx context.Context, i int, pf *Planned, b Batch, in *inspector) (*Result, *Existing, error) {
	// A file of one part read whole by its checks gets its MD5 from that
	// read: the upload then needs no pass of its own over the file.
	onePart := u.Opts.PartSizeFor(pf.Size) >= pf.Size
	var err error
	if in != nil {
		err = in.wait(ctx, i)
	} else if pf.Refused == nil {
		err = Inspect(ctx, pf, u.Opts.Purpose, b.SkipExisting || onePart && b.Check && check.Streamed(u.Opts.Purpose), b.Check)
	}
	if pf.Refused != nil {
		return nil, nil, &RefusedError{pf.Refused}
	}
	if err != nil {
		return nil, nil, err
	}
	if b.SkipExisting && b.Index != nil {
		ex, err := u.existing(ctx, b.Index, pf)
		if err != nil || ex != nil {
			if ex != nil {
				u.report(Event{Type: EventSkipped, File: pf.Path, FileID: ex.FileID, BytesTotal: pf.Size,
					Message: "skipped: uploaded before as " + ex.FileID})
			}
			return nil, ex, err
		}
	}
	one := *u
	one.Opts.MimeType = pf.MimeType
	if onePart {
		one.Opts.md5 = pf.MD5
	}
	res, err := one.Put(ctx, pf.Path)
	if err != nil {
		return nil, nil, err
	}
	if b.Index != nil {
		if err := b.Index.Record(u.Client.BaseURL(), u.Opts.Purpose, res.Size, res.MD5,
			seen.Record{FileID: res.FileID, Filename: filepath.Base(pf.Path), Path: pf.Path}); err != nil {
			u.report(Event{Type: EventWarning, File: pf.Path, Message: fmt.Sprintf("not recorded for --skip-existing: %v", err)})
		}
	}
	if b.Wait {
		if _, err := u.Client.WaitProcessed(ctx, res.FileID, b.WaitTimeout, func(status string, wait time.Duration) {
			u.report(Event{Type: EventWaiting, File: pf.Path, FileID: res.FileID, Message: status, Wait: wait})
		}); err != nil {
			return nil, nil, fmt.Errorf("%s was uploaded as %s, but: %w", pf.Path, res.FileID, err)
		}
	}
	return res, nil, nil
}

func (u *Uploader) report(e Event) {
	if u.Opts.Report != nil {
		u.Opts.Report(e)
	}
}

// existing looks for pf's content in the index and asks the server whether
// that file is still there (GET /files/{id}). A file the server no longer
// has is forgotten.
func (u *Uploader) existing(ctx context.Context, ix *seen.Index, pf *Planned) (*Existing, error) {
	base, purpose := u.Client.BaseURL(), u.Opts.Purpose
	rec, ok := ix.Lookup(base, purpose, pf.Size, pf.MD5)
	if !ok {
		return nil, nil
	}
	f, err := u.Client.GetFile(ctx, rec.FileID)
	if ae, isAPI := api.ErrorOf(err); isAPI && ae.StatusCode == 404 {
		return nil, ix.Forget(base, purpose, pf.Size, pf.MD5)
	}
	if err != nil {
		return nil, fmt.Errorf("look for %s, uploaded before with the same content: %w", rec.FileID, err)
	}
	if status, _ := api.FileStatus(f); status == "deleted" || status == "error" {
		return nil, ix.Forget(base, purpose, pf.Size, pf.MD5)
	}
	return &Existing{FileID: rec.FileID, MD5: pf.MD5, Size: pf.Size, File: api.RawJSON(f)}, nil
}

// Inspect reads a file once, for what a batch needs of its content: its
// MD5 (withMD5) and the checks of its lines (checks, for the purposes that
// have some), whose verdict goes to pf.Refused. It stops early at the first
// problem when the MD5 is not needed.
func Inspect(ctx context.Context, pf *Planned, purpose string, withMD5, checks bool) error {
	var h hash.Hash
	if withMD5 {
		h = md5.New()
	}
	return inspectWith(ctx, pf, purpose, h, checks)
}

// inspectWith is Inspect with h to hash the file (nil: no MD5).
func inspectWith(ctx context.Context, pf *Planned, purpose string, h hash.Hash, checks bool) error {
	var c *check.Checker
	if checks && pf.Refused == nil && check.Streamed(purpose) {
		c = check.New(purpose, pf.Path, pf.Size)
	}
	if c == nil && h == nil {
		return nil
	}
	f, err := os.Open(pf.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, done := readBuffer(pf.Size)
	defer done()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := f.Read(buf)
		if n > 0 {
			if h != nil {
				h.Write(buf[:n])
			}
			if c != nil {
				_, _ = c.Write(buf[:n])
				if c.Err() != nil && h == nil {
					break
				}
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if h != nil {
		pf.MD5 = hex.EncodeToString(h.Sum(nil))
	}
	if c != nil {
		if err := c.Close(); err != nil {
			pf.Refused = err
		}
	}
	return nil
}
