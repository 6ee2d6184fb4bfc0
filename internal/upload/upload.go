// Package upload takes a file to a completed File through the Uploads API:
// it cuts the file into parts, sends them in parallel straight from disk
// (never holding a part in memory), retries transient failures, computes the
// whole file's MD5 in one sequential pass while the parts upload, keeps a
// crash-safe journal so that an interrupted upload resumes where it stopped,
// and completes with the ordered part ids and the MD5.
//
// It speaks only the API as the real service defines it (create, parts,
// complete, cancel, and the files list to find a file whose answer was
// lost), and has one path for every server. It knows nothing of the command
// line: progress goes to a Reporter.
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

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/fileset"
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
	Purpose string
	// PartSize is the size of every part but the last; 0 lets PlanPartSize
	// choose. A resume goes on with the journal's part size.
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
	// bytes no longer match what the whole-file MD5 saw.
	Verify bool
	// CancelOnFailure cancels the session (and drops the journal) when the
	// upload fails or is interrupted, instead of keeping it for a resume.
	CancelOnFailure bool
	Report          Reporter
	// Limiter, when set, caps the bytes of parts sent per second over all
	// connections: each chunk waits on it before it goes (see NewLimiter).
	// One Limiter shared by several Uploaders caps them together; nil sets
	// no cap.
	Limiter *rate.Limiter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TempDir is where PutStream spools its parts; "" means os.TempDir().
	TempDir string
	// MinPartSize is the provider's smallest part but the last (S3-backed
	// gateways: 5 MiB); the chosen part size is never below it, and a
	// PartSize below it is refused. 0: no minimum beyond MinAutoPartSize
	// for a chosen size.
	MinPartSize int64
	// md5 is the file's MD5 when RunBatch has read it already (for its
	// checks): a file of one part then needs no pass of the hasher.
	md5 string
	// Connections, when set, is the budget of parts in flight shared by
	// every upload of a run (several files): each attempt at a part holds
	// one while it is sent, on top of Concurrency, the file's own bound.
	// Waiters are served in order, so a large file among small ones is not
	// starved.
	Connections *semaphore.Weighted
	// Completed, when set, is called once a file is on the server, before
	// its resume journal is removed: what it records durably (the journal
	// of a run of several files) leaves no moment at which a kill forgets
	// the file. An error is reported as a warning; the upload stands.
	Completed func(*Result) error
}

// Check validates the options before any request.
func (o Options) Check() error {
	switch {
	case o.Purpose == "":
		return errors.New("a purpose is required (--purpose), for example video")
	case o.PartSize < 0 || o.PartSize > MaxPartSize:
		return fmt.Errorf("part size %d is out of range: it must be more than 0 and at most 64 MiB (67108864 bytes)", o.PartSize)
	case o.MinPartSize < 0 || o.MinPartSize > MaxPartSize:
		return fmt.Errorf("minimum part size %d is out of range: at most 64 MiB (67108864 bytes)", o.MinPartSize)
	case o.PartSize != 0 && o.PartSize < o.MinPartSize:
		return fmt.Errorf("part size %d is below the provider's minimum part size %d (--min-part-size): every part but the last must be at least that", o.PartSize, o.MinPartSize)
	case o.Concurrency < 1:
		return fmt.Errorf("concurrency %d must be at least 1", o.Concurrency)
	case o.Retry.Retries < 0:
		return fmt.Errorf("retries %d must not be negative", o.Retry.Retries)
	}
	return nil
}

// PartSizeFor is the part size of a file of size bytes: PartSize, or the
// size PlanPartSize chooses, never below MinPartSize.
func (o Options) PartSizeFor(size int64) int64 {
	if o.PartSize != 0 {
		return o.PartSize
	}
	return max(PlanPartSize(size, o.Concurrency), o.MinPartSize)
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// MinAutoPartSize is the smallest part PlanPartSize chooses: S3-backed
// providers refuse smaller parts (but the last), and below it a part's
// request overhead starts to weigh on a far-away link.
const MinAutoPartSize = 5 << 20

// PlanPartSize chooses the part size of a file of size bytes sent over
// concurrency connections: as few parts as the 64 MiB cap allows, rounded up
// to a multiple of concurrency so that every connection has the same number
// of parts and all finish together, each a whole number of MiB and at least
// MinAutoPartSize.
func PlanPartSize(size int64, concurrency int) int64 {
	c := int64(max(concurrency, 1))
	n := (size + MaxPartSize - 1) / MaxPartSize
	n = (n + c - 1) / c * c
	ps := (size + n - 1) / n
	ps = (ps + 1<<20 - 1) &^ (1<<20 - 1)
	return min(max(ps, MinAutoPartSize), MaxPartSize)
}

// Result is a completed upload.
type Result struct {
	File     string
	UploadID string
	FileID   string
	// Size and MD5 (hex) are the file's; ModTime (Unix nanoseconds) is its
	// modification time as the upload saw it (0 for a stream).
	Size    int64
	ModTime int64
	MD5     string
	// Upload is the completed Upload object as the API returned it (or, when
	// Recovered, as rebuilt from the file found).
	Upload json.RawMessage
	// Resumed tells whether a journal was used; PartsSent and BytesSent
	// count what this run sent (acknowledged), not what an earlier run did.
	Resumed   bool
	PartsSent int
	BytesSent int64
	Retries   int
	// Stalls counts the retries of parts that were cut for stalling.
	Stalls int
	// Recovered means the answer to complete was lost and the file was
	// found in the files list instead.
	Recovered bool
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

// ChangedError is a file that changed while it was being uploaded.
type ChangedError struct{ Path string }

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s changed during the upload (its size, modification time or bytes differ from when it started); nothing was completed", e.Path)
}

// Uploader uploads files with one client.
//
// Its Client is the concrete *api.Client: a narrow interface of the calls
// the engine uses was tried (2026-12-02) and removed, because converting
// the client to an interface made the linker keep 23 MB more of the SDK
// (a 72 MB binary instead of 49) and cost 10 MiB of resident memory.
type Uploader struct {
	Client *api.Client
	Opts   Options
}

// run is the state of one file's upload.
type run struct {
	u       *Uploader
	opts    Options
	file    *os.File
	path    string
	fp      journal.Fingerprint
	started time.Time
	gate    retry.Gate
	hasher  *fileHasher
	retries atomic.Int64
	stalls  atomic.Int64

	// ackedAtStart is what the journal had acknowledged when this run
	// started sending: what it sent since derives from the journal.
	ackedAtStart      int
	ackedBytesAtStart int64

	mu       sync.Mutex // guards j, wires, moved, warned, repaired and journal writes
	j        *journal.Journal
	warned   bool
	repaired bool
	// wires[i] follows the attempt at part i in flight (nil when none): the
	// bytes of it the server has acknowledged. Set in send before any
	// worker starts.
	wires []*api.Wire
	// moved counts the bytes of this run's attempts that ended which the
	// server acknowledged, retries included; with the attempts in flight,
	// the link's rate, before any part is acknowledged.
	moved int64

	emitMu sync.Mutex // reports go out one at a time, in order, outside mu
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
	// Stat before opening: opening a FIFO would block until a writer came.
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := checkRegular(path, st); err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	if fst, err := f.Stat(); err != nil || !os.SameFile(st, fst) || fst.Size() != st.Size() || !fst.ModTime().Equal(st.ModTime()) {
		return nil, &ChangedError{Path: path}
	}
	r := &run{u: u, opts: u.Opts, file: f, path: path, started: u.Opts.now(), fp: journal.Fingerprint{
		Path: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Purpose: u.Opts.Purpose, BaseURL: u.Client.BaseURL(),
	}}
	if r.opts.Journal != nil {
		lock, err := r.opts.Journal.Lock(r.fp.Key())
		if err != nil {
			return nil, err
		}
		defer func() { _ = lock.Unlock() }()
	}
	return r.do(ctx)
}

// checkRegular refuses what cannot be uploaded, before anything is opened.
func checkRegular(path string, st os.FileInfo) error {
	switch why := fileset.Unfit(st); {
	case why == "directory":
		return fmt.Errorf("%s is a directory: give the files in it (for example %s/*)", path, path)
	case why != "":
		return fmt.Errorf("%s: cannot be uploaded: %s", path, why)
	case st.Size() > MaxFileSize:
		return fmt.Errorf("%s is %d bytes, over the 8 GiB (8589934592 bytes) the Uploads API accepts", path, st.Size())
	}
	return nil
}

// emit reports e with the progress as the journal and the parts in flight
// have it. It must not be called with mu held.
func (r *run) emit(e Event) {
	if r.opts.Report != nil {
		r.report(e)
	}
}

// report is emit (when there is a Reporter), and returns the bytes moved
// so far (moved and the attempts in flight) read for it: one read of the
// parts' connections serves both. The bytes sent are the parts the server
// acknowledged plus, of the parts in flight, the bytes the server has
// acknowledged (api.Wire: read from the connection when the event is
// made, not per write).
func (r *run) report(e Event) (moved int64) {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	e.File = r.path
	e.BytesTotal = r.fp.Size
	e.Retries, e.Stalls = int(r.retries.Load()), int(r.stalls.Load())
	r.mu.Lock()
	moved = r.moved
	if r.j != nil {
		e.UploadID = r.j.UploadID
		e.PartsTotal = len(r.j.Parts)
		e.PartsDone, e.BytesDone = r.j.Acked()
		e.BytesSent = e.BytesDone
		if len(r.wires) == len(r.j.Parts) {
			for i, p := range r.j.Parts {
				if w := r.wires[i]; w != nil && p.ID == "" {
					n := w.Acked()
					moved += n
					e.BytesSent += min(n, p.Length)
				}
			}
		}
	}
	r.mu.Unlock()
	if r.opts.Report != nil {
		r.opts.Report(e)
	}
	return moved
}

func (r *run) warn(part int, format string, args ...any) {
	r.emit(Event{Type: EventWarning, Part: part, Message: fmt.Sprintf(format, args...)})
}

func (r *run) do(ctx context.Context) (*Result, error) {
	resumed, err := r.resume(ctx)
	if err != nil {
		return nil, err
	}
	if !resumed {
		if err := r.create(ctx); err != nil {
			return nil, err
		}
	}
	res, err := r.upload(ctx, resumed)
	if err != nil {
		return nil, r.failed(ctx, err)
	}
	return res, nil
}

// upload sends and completes the journal's session; a session that ended
// elsewhere (cancelled, expired, unknown to the server) is replaced by a new
// one, once.
func (r *run) upload(ctx context.Context, resumed bool) (*Result, error) {
	for startedOver := false; ; startedOver = true {
		r.mu.Lock()
		r.ackedAtStart, r.ackedBytesAtStart = r.j.Acked()
		r.mu.Unlock()
		r.emit(Event{Type: EventStart, Resumed: resumed})
		res, err := r.send(ctx)
		var ended *endedError
		if !errors.As(err, &ended) || startedOver {
			if res != nil {
				res.Resumed = resumed
			}
			return res, err
		}
		r.warn(0, "upload %s %s; starting over with a new upload", ended.uploadID, ended.how)
		if r.opts.Journal != nil {
			if err := r.opts.Journal.Remove(r.fp.Key()); err != nil {
				return nil, fmt.Errorf("remove the resume journal: %w", err)
			}
		}
		r.mu.Lock()
		r.j = nil
		r.mu.Unlock()
		if err := r.create(ctx); err != nil {
			return nil, err
		}
		resumed = false
	}
}

// create opens a new session and writes its journal before any part (a file
// of more than one part); if the journal cannot be written, the session is
// cancelled.
func (r *run) create(ctx context.Context) error {
	mt := r.opts.MimeType
	if mt == "" {
		var err error
		if mt, err = mimetype.DetectFile(r.fp.Path); err != nil {
			return fmt.Errorf("detect the MIME type of %s: %w (pass --mime-type)", r.path, err)
		}
	}
	j, err := r.openSession(ctx, filepath.Base(r.fp.Path), mt)
	if err != nil {
		return err
	}
	// A file of one part is journaled first when complete is sent: before
	// that, a kill loses a session that holds no file and at most one part
	// to send again, and a journal would cost the file two more writes.
	if r.opts.Journal != nil && len(j.Parts) > 1 {
		if err := r.opts.Journal.Save(j); err != nil {
			r.cancelSession(ctx, j.UploadID)
			return fmt.Errorf("write the resume journal in %s: %w; upload %s was cancelled (free space there, or pass --journal-dir)", r.opts.Journal.Dir, err, j.UploadID)
		}
	}
	r.mu.Lock()
	r.j = j
	r.mu.Unlock()
	return nil
}

// openSession creates the upload session of the run's file (named name,
// of MIME type mt) and returns its journal: the session, the part size and
// the parts planned. Put and PutStream both open theirs here.
func (r *run) openSession(ctx context.Context, name, mt string) (*journal.Journal, error) {
	partSize := r.opts.PartSizeFor(r.fp.Size)
	up, err := r.u.Client.CreateUpload(ctx, api.NewUpload{Filename: name, Purpose: r.opts.Purpose, Bytes: r.fp.Size,
		MimeType: mt, ExpiresAfter: r.opts.ExpiresAfter})
	if err != nil {
		return nil, err
	}
	now := r.opts.now().UTC()
	return &journal.Journal{Fingerprint: r.fp, PartSize: partSize, UploadID: up.ID, Filename: name, MimeType: mt,
		UploadCreatedAt: up.CreatedAt, ExpiresAt: up.ExpiresAt, CreatedAt: now, UpdatedAt: now,
		Parts: journal.Plan(r.fp.Size, partSize)}, nil
}

// cancelSession cancels a session, best effort, even after ctx has ended.
func (r *run) cancelSession(ctx context.Context, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = r.u.Client.Cancel(cctx, id)
}

// send uploads the parts not yet acknowledged, hashes the file meanwhile, and
// completes.
func (r *run) send(ctx context.Context) (*Result, error) {
	r.mu.Lock()
	ends := make([]int64, len(r.j.Parts))
	chain := make([][]byte, len(r.j.Parts))
	for i, p := range r.j.Parts {
		ends[i], chain[i] = p.Offset+p.Length, p.MD5State
	}
	r.hasher = newFileHasher(r.fp.Size, r.j.MD5State, r.j.MD5Offset, ends, chain)
	if r.opts.md5 != "" && len(ends) == 1 {
		r.hasher = knownHash(r.opts.md5, r.fp.Size, ends)
	}
	r.wires = make([]*api.Wire, len(r.j.Parts))
	r.mu.Unlock()

	// A failure of the hasher (the file got shorter) stops the parts too.
	hctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	type hashResult struct {
		sum string
		err error
	}
	hashed := make(chan hashResult, 1)
	go func() {
		sum, err := r.hasher.run(hctx, r.file)
		if errors.Is(err, errShrunk) {
			err = &ChangedError{Path: r.path}
		}
		if err != nil {
			stop(err)
		}
		hashed <- hashResult{sum, err}
	}()

	watchDone := make(chan struct{})
	go r.tick(hctx, watchDone)
	err := r.sendMissing(hctx)
	close(watchDone)
	if err != nil {
		if cause := context.Cause(hctx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		stop(nil)
		<-hashed
		r.saveJournal()
		return nil, err
	}
	h := <-hashed
	if h.err != nil {
		r.saveJournal()
		return nil, h.err
	}
	if err := r.checkUnchanged(); err != nil {
		return nil, err
	}
	return r.complete(ctx, h.sum)
}

// checkUnchanged refuses to go on if the file changed since the start.
func (r *run) checkUnchanged() error {
	if r.changed() {
		return &ChangedError{Path: r.path}
	}
	return nil
}

// changed reports whether the file's size or modification time differ from
// the start (or it can no longer be found).
func (r *run) changed() bool {
	st, err := os.Stat(r.fp.Path)
	return err != nil || st.Size() != r.fp.Size || st.ModTime().UnixNano() != r.fp.ModTime
}

// failed decides what to keep after err: the session and journal for a
// resume, unless the failure makes them useless or --cancel-on-failure.
func (r *run) failed(ctx context.Context, err error) error {
	fe := &FailedError{File: r.path, Err: err}
	r.mu.Lock()
	j := r.j
	if j != nil {
		fe.UploadID, fe.Parts = j.UploadID, len(j.Parts)
		fe.PartsDone, _ = j.Acked()
	}
	r.mu.Unlock()
	if j == nil {
		return fe
	}
	var ce *ChangedError
	var ended *endedError
	useless := errors.As(err, &ce) || errors.As(err, &ended)
	if ae, ok := api.ErrorOf(err); ok && ae.Code == "md5_mismatch" {
		useless = true
	}
	if r.opts.CancelOnFailure || useless {
		r.cancelSession(ctx, j.UploadID)
		if r.opts.Journal != nil {
			_ = r.opts.Journal.Remove(r.fp.Key())
		}
		return fe
	}
	if r.opts.Journal != nil {
		fe.Journal = r.opts.Journal.Path(r.fp.Key())
		fe.Kept = true
	}
	return fe
}

// saveJournal writes the journal with the hasher's latest state, best effort.
func (r *run) saveJournal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.saveLocked()
}

func (r *run) saveLocked() error {
	if r.opts.Journal == nil || r.j == nil {
		return nil
	}
	if r.hasher != nil {
		state, offset, chain := r.hasher.snapshot()
		r.j.MD5State, r.j.MD5Offset = state, offset
		for i := range r.j.Parts {
			if i < len(chain) && chain[i] != nil {
				r.j.Parts[i].MD5State = chain[i]
			}
		}
	}
	r.j.UpdatedAt = r.opts.now().UTC()
	return r.opts.Journal.Save(r.j)
}
