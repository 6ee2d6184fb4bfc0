package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/units"
	"github.com/uploads-dev/uploads/internal/upload"
)

// newCmdParts builds `uploads parts` and its commands.
func newCmdParts(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "parts",
		Short: "Add parts to an upload, or list them",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	cmd.AddCommand(newCmdPartsAdd(f), newCmdPartsList(f))
	return cmd
}

// partsAddOptions are the flags and arguments of `uploads parts add`.
type partsAddOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc

	UploadID string
	// Path is the file to send, or "-" for stdin.
	Path string
	// Offset and Length choose a byte range; Length -1 means to the end.
	Offset, Length int64
}

// newCmdPartsAdd builds `uploads parts add`.
func newCmdPartsAdd(f *factory) *cobra.Command {
	o := &partsAddOptions{IO: f.IO}
	var flagID string
	cmd := &cobra.Command{
		Use:   "add UPLOAD_ID PATH",
		Short: "Send one part of an upload, streamed from a file or stdin",
		Long: `Send one part (at most 64 MiB on the real service) and print the UploadPart
object; its id goes into 'uploads complete'.

PATH is a file, or - for stdin. --offset and --length send one byte range of
a big file without splitting it on disk. The part is streamed, never held in
memory. A part read from a file is retried after a transient failure
(network, 429, 5xx), re-read from the file, up to --retries times with
exponential backoff; a part read from stdin (or another pipe) cannot be
re-read, so it is sent once and not retried. With stdin, --offset skips that
many bytes and --length sends exactly that many (without it the part is sent
chunked, to the end of the input).

Text output (--format text) is the part id.`,
		Example: `  uploads parts add upload_abc123 clip.mp4
  uploads parts add upload_abc123 clip.mp4 --offset 67108864 --length 67108864
  tar c dir | uploads parts add --upload-id upload_abc123 -`,
		Args: positional(1, "UPLOAD_ID", "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case flagID != "" && len(args) == 2:
				return usagef(fmt.Errorf("the upload id is given twice (--upload-id and %q)", args[0]))
			case flagID != "":
				o.UploadID, o.Path = flagID, args[0]
			case len(args) == 2:
				o.UploadID, o.Path = args[0], args[1]
			default:
				return usagef(fmt.Errorf("%s needs UPLOAD_ID and PATH (or --upload-id ID and PATH)", cmd.CommandPath()))
			}
			if err := o.check(cmd); err != nil {
				return err
			}
			o.Ctx, o.Client = cmd.Context(), f.clientFor(cmd)
			return partsAddRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&flagID, "upload-id", "", "the upload (instead of the UPLOAD_ID argument)")
	fl.Var((*units.Size)(&o.Offset), "offset", "first byte of PATH to send: bytes, or a size such as 64MiB")
	fl.Var((*units.Size)(&o.Length), "length", "number of bytes to send, or a size such as 64MiB (default: to the end of PATH)")
	addRetriesFlag(cmd, false)
	addStallTimeoutFlag(cmd)
	return cmd
}

func (o *partsAddOptions) check(cmd *cobra.Command) error {
	switch {
	case o.UploadID == "":
		return usagef(errors.New("the upload id is empty"))
	case o.Path == "":
		return usagef(errors.New("PATH is empty: give a file, or - for stdin"))
	case o.Offset < 0:
		return usagef(fmt.Errorf("--offset %d must not be negative", o.Offset))
	case !cmd.Flags().Changed("length"):
		o.Length = -1
	case o.Length < 1:
		return usagef(fmt.Errorf("--length %d must be at least 1", o.Length))
	}
	return nil
}

func partsAddRun(o *partsAddOptions) error {
	body, short, closeBody, err := o.openBody()
	if err != nil {
		return err
	}
	defer closeBody()
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	bar := newPartBar(o, body)
	policy := retry.Default
	policy.Retries = cfg.Retries
	attempts := 0
	op := retry.Op{
		Policy: policy,
		Classify: func(err error) retry.Verdict {
			if !body.Replayable {
				return retry.Verdict{}
			}
			return api.RetryVerdict(o.Ctx, err)
		},
		OnRetry: func(a retry.Attempt) {
			_ = bar.above(func() error {
				warnf(o.IO.Err, "part attempt %d failed (%s); retrying in %s", a.N, brief(a.Err), a.Wait.Round(time.Millisecond))
				return nil
			})
		},
	}
	var part *api.Part
	err = op.Do(o.Ctx, func() error {
		attempts++
		bar.attempt()
		p, err := c.AddPart(o.Ctx, o.UploadID, bar.body)
		part = p
		return err
	})
	bar.end(o.Ctx, part, err)
	switch {
	case err == nil:
	case short != nil && short.err != nil:
		return short.err // the input ended early: a local failure
	case api.Classify(o.Ctx, err) == api.Transient && !body.Replayable:
		return withHint(err, "the part was read from a pipe, which cannot be re-read, so it was not retried; save it to a file and pass the file's path to have it retried")
	case api.Classify(o.Ctx, err) == api.Transient:
		return withHint(err, "gave up after %d attempts; the failure may be temporary: run the command again, or raise --retries", attempts)
	default:
		return err
	}
	raw, _ := json.Marshal(part)
	return o.IO.export(cfg).object(raw, func() string { return part.ID })
}

// openBody opens the part's bytes: a replayable section of a regular file,
// or a one-shot stream of stdin or a pipe (with a reader that notices when
// the input ends before --length).
func (o *partsAddOptions) openBody() (api.PartBody, *exactReader, func(), error) {
	nothing := func() {}
	if o.Path == "-" {
		body, short, err := o.streamBody(o.IO.In, "stdin")
		return body, short, nothing, err
	}
	f, err := os.Open(o.Path)
	if err != nil {
		return api.PartBody{}, nil, nothing, err
	}
	closeFile := func() { _ = f.Close() }
	st, err := f.Stat()
	if err != nil {
		closeFile()
		return api.PartBody{}, nil, nothing, err
	}
	switch {
	case st.IsDir():
		closeFile()
		return api.PartBody{}, nil, nothing, fmt.Errorf("%s is a directory: give a file, or - for stdin", o.Path)
	case !st.Mode().IsRegular():
		body, short, err := o.streamBody(f, o.Path)
		return body, short, closeFile, err
	}
	size := st.Size()
	switch {
	case size == 0:
		err = fmt.Errorf("%s is empty: a part needs at least 1 byte", o.Path)
	case o.Offset >= size:
		err = usagef(fmt.Errorf("--offset %d is past the end of %s (%d bytes)", o.Offset, o.Path, size))
	case o.Length > size-o.Offset:
		err = usagef(fmt.Errorf("--offset %d --length %d goes past the end of %s (%d bytes): at most %d bytes follow the offset",
			o.Offset, o.Length, o.Path, size, size-o.Offset))
	}
	if err != nil {
		closeFile()
		return api.PartBody{}, nil, nothing, err
	}
	n := o.Length
	if n < 0 {
		n = size - o.Offset
	}
	return api.Section(f, o.Offset, n), nil, closeFile, nil
}

// streamBody reads the part from r once: it skips --offset bytes and, with
// --length, sends exactly that many.
func (o *partsAddOptions) streamBody(r io.Reader, name string) (api.PartBody, *exactReader, error) {
	r = &ctxReader{ctx: o.Ctx, r: r}
	if o.Offset > 0 {
		skipped, err := io.CopyN(io.Discard, r, o.Offset)
		if err != nil {
			if err == io.EOF {
				return api.PartBody{}, nil, fmt.Errorf("%s ended after %d bytes, before --offset %d", name, skipped, o.Offset)
			}
			return api.PartBody{}, nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	if o.Length < 0 {
		return api.Stream(r, -1), nil, nil
	}
	short := &exactReader{r: r, left: o.Length, want: o.Length, name: name}
	return api.Stream(short, o.Length), short, nil
}

// exactReader reads exactly want bytes from r; if r ends sooner, it fails
// with an error that says so (kept in err, so that the command reports it
// rather than the HTTP client's account of a short body).
type exactReader struct {
	r          io.Reader
	left, want int64
	name       string
	err        error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		e.err = fmt.Errorf("%s ended after %d bytes, short of --length %d", e.name, e.want-e.left, e.want)
		return n, e.err
	}
	if err == io.EOF {
		err = nil
	}
	if e.left == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// ctxReader makes reads of a pipe end when ctx does. A read of a pipe that
// gets no data blocks, and the HTTP client, once its request is cancelled,
// waits for the body's read to return: without this, Ctrl-C would not stop
// `parts add -` while its input is idle.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	buf []byte
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf := c.buf[:len(p)]
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.r.Read(buf)
		done <- result{n, err}
	}()
	select {
	case res := <-done:
		return copy(p, buf[:res.n]), res.err
	case <-c.ctx.Done():
		// The read goroutine still owns buf; no read follows this one.
		c.buf = nil
		return 0, c.ctx.Err()
	}
}

// brief is a one-line account of a failed attempt, for retry notes.
func brief(err error) string {
	if ae, ok := api.ErrorOf(err); ok {
		s := fmt.Sprintf("status %d", ae.StatusCode)
		if ae.Code != "" {
			s += " " + ae.Code
		}
		return s
	}
	return err.Error()
}

// partsListOptions are the argument of `uploads parts list`.
type partsListOptions struct {
	IO       IOStreams
	Ctx      context.Context
	Client   clientFunc
	UploadID string
}

// newCmdPartsList builds `uploads parts list`.
func newCmdPartsList(f *factory) *cobra.Command {
	o := &partsListOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "list UPLOAD_ID",
		Short: "List the parts an upload has accepted (bundled server extension)",
		Long: `List the parts an upload has accepted so far, in the order accepted, each with
its size and MD5: how a script resumes an interrupted upload. This is an
extension of the bundled server (uploads serve); the real service answers 404.

Text output (--format text) is a table: id, bytes, md5, created.`,
		Example: `  uploads parts list upload_abc123`,
		Args:    positional(1, "UPLOAD_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.UploadID, o.Ctx, o.Client = args[0], cmd.Context(), f.clientFor(cmd)
			return partsListRun(o)
		},
	}
	addRetriesFlag(cmd, true)
	return cmd
}

func partsListRun(o *partsListOptions) error {
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	parts, err := c.ListParts(o.Ctx, o.UploadID)
	if err != nil {
		return err
	}
	if parts == nil {
		parts = []api.Part{}
	}
	raw, _ := json.Marshal(map[string]any{"object": "list", "data": parts})
	return o.IO.export(cfg).object(raw, func() string {
		return table([]string{"ID", "BYTES", "MD5", "CREATED"}, len(parts), func(i int) []any {
			p := parts[i]
			return []any{p.ID, p.Bytes, p.MD5, unixTime(p.CreatedAt)}
		})
	})
}

// partBar shows a part on its way when stderr is a terminal: a slow part
// of 64 MiB takes minutes, which must not look like a hang. Elsewhere (a
// pipe, a CI log) it shows nothing: stdout's line is the result.
type partBar struct {
	prog printer
	body api.PartBody
	ev   upload.Event
	wire atomic.Pointer[api.Wire] // the attempt's: what the server acknowledged
	stop chan struct{}
	done sync.WaitGroup
}

func newPartBar(o *partsAddOptions, body api.PartBody) *partBar {
	b := &partBar{prog: nonePrinter{w: o.IO.Err}, body: body}
	if !o.IO.ErrTTY || body.Size <= 0 {
		return b
	}
	b.prog = newPrinter(progressBar, o.IO, 0, []string{o.Path}, body.Size)
	b.ev = upload.Event{File: o.Path, UploadID: o.UploadID, BytesTotal: body.Size, PartsTotal: 1}
	b.stop = make(chan struct{})
	b.report(upload.EventStart)
	b.done.Go(func() {
		t := time.NewTicker(redrawEvery)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.report(upload.EventProgress)
			}
		}
	})
	return b
}

func (b *partBar) report(t upload.EventType) {
	e := b.ev
	e.Type = t
	if w := b.wire.Load(); w != nil {
		e.BytesSent = min(w.Acked(), e.BytesTotal)
	}
	b.prog.report(e)
}

// attempt starts an attempt: its bytes count from 0.
func (b *partBar) attempt() {
	if b.stop != nil {
		w := &api.Wire{}
		b.body.Wire = w
		b.wire.Store(w)
	}
}

func (b *partBar) above(write func() error) error { return b.prog.above(write) }

// end shows the part accepted, or takes the bar away after a failure (a
// part is all or nothing; the command says what failed).
func (b *partBar) end(ctx context.Context, part *api.Part, err error) {
	if b.stop != nil {
		close(b.stop)
		b.done.Wait()
	}
	if err == nil && part != nil {
		e := b.ev
		e.Type, e.FileID, e.BytesSent, e.BytesDone, e.PartsDone = upload.EventCompleted, part.ID, e.BytesTotal, e.BytesTotal, 1
		b.prog.report(e)
	} else if b.stop != nil {
		b.prog.failed(ctx, fileFailure{File: b.ev.File, Err: err})
	}
	b.prog.close()
}
