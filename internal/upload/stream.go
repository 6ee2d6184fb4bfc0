// Uploads from a stream (PutStream, for `uploads put -`).
//
// A stream is read once, in order, and cannot be read again: so a part that
// may have to be sent again is kept until the server acknowledges it — on
// disk, not in memory. Each part is read from the stream into its own spool
// file (os.CreateTemp in Options.TempDir, else os.TempDir()) while the parts
// before it upload, and every attempt at it (retries included) is sent from
// that file, as Put sends from the file it uploads. A spool file is closed
// and removed as soon as its part is acknowledged, and on any exit; where the
// system allows it (Unix), its name is removed the moment it is created, so
// that even a killed process leaves nothing behind.
//
// Bounds:
//
//   - memory: what Put costs — one read buffer of 1 MiB (where Put has its
//     hasher's) and, for each part in flight, its multipart framing and the
//     HTTP client's copy buffer (about 50 KiB). No part is held in memory,
//     whatever the part size.
//   - disk: at most Concurrency spool files at once, each of at most the part
//     size: Concurrency × part size in the temporary directory (512 MiB at
//     most at the defaults, 8 × 64 MiB). Reading stops while that many parts
//     are read and not yet acknowledged (backpressure on the producer); with
//     Concurrency 1 a part is read only once the one before it is
//     acknowledged. A temporary directory on tmpfs holds them in RAM.
//
// Measured (BenchmarkPutStreamMemory, docs/put.md): a 256 MiB stream in
// 64 MiB parts over 4 connections peaks at 4.7–6.4 MiB of Go heap, server
// included, against 5.7–5.8 MiB for Put of the same bytes from a file.
//
// The MD5 of the whole stream is computed as it is read, in the same pass.
// The size is declared when the session is created (the API requires it); a
// stream that ends early, or holds more, fails with a *SizeMismatchError.
//
// There is no journal and no resume: on a failure or an interruption the
// session is cancelled and a *StreamError says that the upload must be run
// again. Complete's lost answer is handled as in Put (the file is looked for
// in the files list: that needs the session's details, not the journal); a
// complete refused for its MD5 cannot be repaired, since the parts' bytes are
// gone, and fails.

package upload

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/mimetype"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/units"
)

// streamChunk is how much is read from the stream at a time.
const streamChunk = 1 << 20

// sniffLen is how many first bytes decide the MIME type when the filename's
// extension does not (what the content sniffer reads at most).
const sniffLen = 3072

// SizeMismatchError is a stream that did not hold the declared size.
type SizeMismatchError struct {
	Declared int64
	// Read is what was read: fewer bytes than Declared when the stream ended
	// early; Declared+1 when it had more (reading stops at the first extra
	// byte).
	Read int64
}

func (e *SizeMismatchError) Error() string {
	if e.Read > e.Declared {
		return fmt.Sprintf("standard input holds more than the %d bytes declared (--size): read %d bytes before stopping", e.Declared, e.Read)
	}
	return fmt.Sprintf("standard input ended after %d bytes, but %d were declared (--size)", e.Read, e.Declared)
}

// StreamError is a PutStream that did not complete. Nothing is kept: a
// stream cannot be read again, so the session (if one was created) has been
// cancelled and the upload has to be run again from the start.
type StreamError struct {
	Filename string
	// UploadID is the cancelled session, "" if none was created.
	UploadID  string
	PartsDone int
	Parts     int
	// BytesRead is what was read from the stream.
	BytesRead int64
	Err       error
}

func (e *StreamError) Error() string {
	if e.UploadID == "" {
		return fmt.Sprintf("%v; nothing was uploaded", e.Err)
	}
	const again = "standard input cannot be read again, so an upload from it cannot be resumed: run it again from the start"
	if errors.Is(e.Err, context.Canceled) {
		return fmt.Sprintf("interrupted after %d of %d parts of %s (%s read): upload %s was cancelled; %s",
			e.PartsDone, e.Parts, e.Filename, units.FormatSize(e.BytesRead), e.UploadID, again)
	}
	return fmt.Sprintf("%v; upload %s was cancelled after %d of %d parts; %s", e.Err, e.UploadID, e.PartsDone, e.Parts, again)
}

// Unwrap returns the cause.
func (e *StreamError) Unwrap() error { return e.Err }

// PutStream uploads size bytes read from src as a file named filename, with
// the Uploader's options (a journal, Restart and Verify do not apply;
// CancelOnFailure is always on). See the comment at the top of this file for
// what it holds in memory and on disk.
func (u *Uploader) PutStream(ctx context.Context, src io.Reader, size int64, filename string) (*Result, error) {
	o := u.Opts
	o.Journal, o.Restart, o.Verify, o.CancelOnFailure = nil, false, false, true
	if err := o.Check(); err != nil {
		return nil, err
	}
	switch {
	case filename == "":
		return nil, errors.New("a filename is required for an upload from standard input (--filename)")
	case size < 1 || size > MaxFileSize:
		return nil, fmt.Errorf("size %d is out of range: the Uploads API takes files of 1 byte to 8 GiB (8589934592 bytes)", size)
	}
	if err := checkTempDir(o.TempDir); err != nil {
		return nil, err
	}
	r := &run{u: u, opts: o, path: filename, started: o.now(),
		fp: journal.Fingerprint{Size: size, Purpose: o.Purpose, BaseURL: u.Client.BaseURL()}}
	s := &stream{r: r, src: src, hash: md5.New(), buf: make([]byte, streamChunk), slots: make(chan struct{}, o.Concurrency)}
	mt, err := s.mimeType()
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.create(ctx, mt); err != nil {
		return nil, s.fail(ctx, err)
	}
	res, err := s.send(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return res, nil
}

// checkTempDir makes sure the spool directory takes files before any
// session exists.
func checkTempDir(dir string) error {
	f, err := os.CreateTemp(dir, "uploads-stdin-*.part")
	if err != nil {
		return fmt.Errorf("cannot create the spool files of an upload from standard input: %w (set TMPDIR to a directory with room for concurrency × part size)", err)
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// stream is the state of one PutStream beside its run (whose journal lives
// only in memory: it holds the plan, the part ids and the session).
type stream struct {
	r    *run
	src  io.Reader
	hash hash.Hash
	buf  []byte
	read atomic.Int64 // bytes read from src
	// slots holds a token per part read and not yet acknowledged.
	slots chan struct{}

	startMu sync.Mutex // guards closed; senders start only while !closed
	closed  bool
	senders sync.WaitGroup
}

// mimeType is Options.MimeType, else from the filename's extension, else
// from the first bytes (which are put back in front of the stream).
func (s *stream) mimeType() (string, error) {
	if mt := s.r.opts.MimeType; mt != "" {
		return mt, nil
	}
	if mt := mimetype.FromName(s.r.path); mt != "" {
		return mt, nil
	}
	head := make([]byte, min(sniffLen, s.r.fp.Size))
	n, err := io.ReadFull(s.src, head)
	s.src = io.MultiReader(bytes.NewReader(head[:n]), s.src)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		s.read.Store(int64(n))
		return "", &SizeMismatchError{Declared: s.r.fp.Size, Read: int64(n)}
	case err != nil:
		return "", fmt.Errorf("read standard input: %w", err)
	}
	mt, err := mimetype.FromContent(bytes.NewReader(head))
	if err != nil {
		return "", fmt.Errorf("detect the MIME type of %s: %w (pass --mime-type)", s.r.path, err)
	}
	return mt, nil
}

// create opens the session; its plan and part ids live in an in-memory
// journal that is never written.
func (s *stream) create(ctx context.Context, mt string) error {
	r := s.r
	j, err := r.openSession(ctx, r.path, mt)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.j = j
	r.wires = make([]*api.Wire, len(j.Parts))
	r.mu.Unlock()
	return nil
}

// fail cancels the session, if there is one, and says what happened.
func (s *stream) fail(ctx context.Context, err error) error {
	r := s.r
	se := &StreamError{Filename: r.path, BytesRead: s.read.Load(), Err: err}
	r.mu.Lock()
	j := r.j
	if j != nil {
		se.UploadID, se.Parts = j.UploadID, len(j.Parts)
		se.PartsDone, _ = j.Acked()
	}
	r.mu.Unlock()
	if j != nil {
		r.cancelSession(ctx, j.UploadID)
	}
	return se
}

// send reads the parts into spool files and uploads them as they are read,
// then completes. A Read blocked on the stream is not waited for after a
// failure or an interruption: its part's spool file is closed when that Read
// returns.
func (s *stream) send(ctx context.Context) (*Result, error) {
	r := s.r
	r.emit(Event{Type: EventStart})
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	read := make(chan error, 1)
	go func() { read <- s.readParts(sctx, stop) }()
	ticking := make(chan struct{})
	go r.tick(sctx, ticking)

	var err error
	select {
	case err = <-read:
		if err != nil {
			stop(err)
		}
	case <-sctx.Done():
	}
	s.startMu.Lock()
	s.closed = true
	s.startMu.Unlock()
	s.senders.Wait()
	close(ticking)
	if err == nil {
		err = context.Cause(sctx) // a sender's failure
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}
	return s.complete(ctx, hex.EncodeToString(s.hash.Sum(nil)))
}

// readParts reads the parts in order, each into its spool file, and starts
// each one's sender; it waits for a free slot before reading a part. After
// the last part it checks that the stream ends there.
func (s *stream) readParts(ctx context.Context, stop context.CancelCauseFunc) error {
	s.r.mu.Lock()
	plan := append(s.r.j.Parts[:0:0], s.r.j.Parts...)
	s.r.mu.Unlock()
	for i, p := range plan {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		sp, err := s.spoolPart(ctx, i, p.Length)
		if err != nil {
			<-s.slots
			return err
		}
		if !s.start(ctx, stop, i, p, sp) {
			sp.close()
			<-s.slots
			return context.Cause(ctx)
		}
	}
	return s.checkEnd()
}

// spoolPart reads part i (n bytes) into a new spool file, hashing it on the
// way.
func (s *stream) spoolPart(ctx context.Context, i int, n int64) (*spool, error) {
	f, err := os.CreateTemp(s.r.opts.TempDir, "uploads-stdin-*.part")
	if err != nil {
		return nil, fmt.Errorf("create the spool file of part %d: %w (set TMPDIR to a directory with room for concurrency × part size)", i+1, err)
	}
	sp := &spool{f: f, removed: os.Remove(f.Name()) == nil}
	for got := int64(0); got < n; {
		if ctx.Err() != nil {
			sp.close()
			return nil, context.Cause(ctx)
		}
		m, err := s.src.Read(s.buf[:min(int64(len(s.buf)), n-got)])
		if m > 0 {
			s.hash.Write(s.buf[:m])
			if _, werr := f.Write(s.buf[:m]); werr != nil {
				sp.close()
				return nil, fmt.Errorf("write the spool file of part %d: %w (set TMPDIR to a directory with room for concurrency × part size)", i+1, werr)
			}
			got += int64(m)
			s.read.Add(int64(m))
		}
		switch {
		case errors.Is(err, io.EOF) && got < n:
			sp.close()
			return nil, &SizeMismatchError{Declared: s.r.fp.Size, Read: s.read.Load()}
		case err != nil && !errors.Is(err, io.EOF):
			sp.close()
			return nil, fmt.Errorf("read standard input: %w", err)
		}
	}
	return sp, nil
}

// checkEnd makes sure the stream holds nothing past the declared size.
func (s *stream) checkEnd() error {
	var b [1]byte
	for {
		n, err := s.src.Read(b[:])
		switch {
		case n > 0:
			return &SizeMismatchError{Declared: s.r.fp.Size, Read: s.read.Add(int64(n))}
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("read standard input: %w", err)
		}
	}
}

// start runs part i's sender, unless the upload is ending. The sender owns
// sp and the part's slot.
func (s *stream) start(ctx context.Context, stop context.CancelCauseFunc, i int, p journal.Part, sp *spool) bool {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.closed || ctx.Err() != nil {
		return false
	}
	s.senders.Add(1)
	go func() {
		defer s.senders.Done()
		defer func() { <-s.slots }()
		defer sp.close()
		if err := s.sendPart(ctx, i, p, sp); err != nil {
			stop(err)
		}
	}()
	return true
}

// sendPart uploads part i from its spool file, with Put's retries and
// events.
func (s *stream) sendPart(ctx context.Context, i int, p journal.Part, sp *spool) error {
	return s.r.sendBody(ctx, i, p, sp.f, 0, func(err error) retry.Verdict { return api.RetryVerdict(ctx, err) }, nil)
}

// complete sends complete; a lost answer, or a session no longer pending,
// sends it looking for the file it made, as Put does. An MD5 refusal cannot
// be repaired: the parts' bytes are gone.
func (s *stream) complete(ctx context.Context, sum string) (*Result, error) {
	r := s.r
	id, ids, _ := r.completing(sum) // a stream has no journal on disk
	up, err := r.u.Client.Complete(ctx, id, ids, sum)
	return r.afterComplete(ctx, id, up, err, func(err error) (*Result, error) {
		return nil, fmt.Errorf("the parts on the server do not add up to the MD5 of what was read (a part was damaged on the way), and their bytes are no longer at hand to send again: %w", err)
	})
}

// spool is one part's bytes on disk.
type spool struct {
	f *os.File
	// removed: the name is gone already (Unix removes it at creation; the
	// bytes stay until the file is closed).
	removed bool
	once    sync.Once
}

// close frees the spool file; it is safe to call twice.
func (sp *spool) close() {
	sp.once.Do(func() {
		_ = sp.f.Close()
		if !sp.removed {
			_ = os.Remove(sp.f.Name())
		}
	})
}
