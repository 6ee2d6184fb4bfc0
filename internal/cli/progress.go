package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/uploads-dev/uploads/internal/units"
	"github.com/uploads-dev/uploads/internal/upload"
)

// Progress modes of `uploads put`.
const (
	progressAuto  = "auto"  // a live view on a terminal, plain lines otherwise
	progressBar   = "bar"   // a live view: a bar per file in flight, and a total
	progressPlain = "plain" // a line every few seconds, for CI logs
	progressJSON  = "json"  // one JSON object per event
	progressNone  = "none"  // errors only (--quiet)
)

// printer shows a put run on stderr. Every mode implements it; put talks to
// no other output but stdout's exporter, which it reaches through above.
type printer interface {
	// report is the upload.Reporter.
	report(e upload.Event)
	// failed reports a file that did not complete.
	failed(ctx context.Context, f fileFailure)
	// summary ends a run of several files.
	summary(s runSummary)
	// above runs write (which prints to stdout or stderr) with the live
	// view out of the way, and draws the view again after it.
	above(write func() error) error
	// close leaves the terminal ready for what follows the run.
	close()
}

// fileFailure is a file that did not complete.
type fileFailure struct {
	File        string
	Size        int64 // the file's bytes
	Err         error // explained: with its hint
	Interrupted bool
	// Several is whether the run had several files: the error of a single
	// file is printed once, by the command, after the run.
	Several bool
	Code    int
	Resume  string // the command that resumes it, "" when nothing is kept
}

// runSummary is the end of a run of several files.
type runSummary struct {
	Files, Completed, Skipped, Failed, Interrupted, NotStarted, Retries int
	// Ignored counts what the walk found but could not upload (each was
	// warned of); they are not among Files.
	Ignored int
	Sent    int64
	Took    time.Duration
}

func (s runSummary) text() string {
	line := noteLine("%d of %d files uploaded (%s sent in %s, %s/s, %s)", s.Completed, s.Files,
		units.FormatSize(s.Sent), s.Took.Round(10*time.Millisecond), units.FormatSize(int64(float64(s.Sent)/max(s.Took.Seconds(), 0.001))),
		plural(s.Retries, "retry"))
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped (uploaded before)", s.Skipped)
	}
	line += fmt.Sprintf(", %d failed", s.Failed)
	if s.Interrupted > 0 {
		line += fmt.Sprintf(", %d interrupted", s.Interrupted)
	}
	if s.NotStarted > 0 {
		line += fmt.Sprintf(", %d not started", s.NotStarted)
	}
	if s.Ignored > 0 {
		line += fmt.Sprintf("; %d ignored (not files that can be uploaded)", s.Ignored)
	}
	return line
}

// newPrinter is the printer of mode (resolved: not auto) on ios's stderr,
// for a run that sends the files at paths (in the run's order), total
// bytes in all (0 when unknown). The text modes render the run's model on
// a goroutine of their own until close.
func newPrinter(mode string, ios IOStreams, interval time.Duration, paths []string, total int64) printer {
	switch mode {
	case progressJSON:
		return newJSONPrinter(ios.Err)
	case progressBar:
		v := newLiveView(ios.Err, ios.liveWidth(), newRunModel(paths, total))
		v.start(redrawEvery)
		return v
	case progressPlain:
		p := newPlainPrinter(ios.Err, interval, newRunModel(paths, total))
		p.start(min(max(interval/2, 100*time.Millisecond), time.Second))
		return p
	}
	return nonePrinter{w: ios.Err}
}

// nonePrinter prints errors only.
type nonePrinter struct{ w io.Writer }

func (nonePrinter) report(upload.Event)                         {}
func (p nonePrinter) failed(ctx context.Context, f fileFailure) { textFailed(ctx, p.w, f) }
func (nonePrinter) summary(runSummary)                          {}
func (nonePrinter) above(write func() error) error              { return write() }
func (nonePrinter) close()                                      {}

// textFailed prints the error of one file of several (a single file's
// error is the command's, printed once after the run; an interrupted file
// is in the command's summary of the interruption).
func textFailed(ctx context.Context, w io.Writer, f fileFailure) {
	if f.Several && !f.Interrupted {
		reportError(ctx, w, namingFile(f.File, f.Err))
	}
}

// namingFile is err with the file's path before it, unless it names the
// file there already (the checks' errors do).
func namingFile(file string, err error) error {
	if strings.HasPrefix(err.Error(), file+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", file, err)
}

// retryLine and warningLine are what the text modes say of a retry and a
// warning: a retry names its reason and its wait, so that a server that is
// down does not look like a hung upload.
func retryLine(e upload.Event) string {
	what := "sending it again"
	if e.Reason == "stalled" {
		what = "cut and sent again"
	}
	return warnLine("%s: part %d: %s; %s in %s (retry %d)",
		e.File, e.Part, e.Error, what, e.Wait.Round(time.Millisecond), e.Attempt)
}

// waitingLine is what the text modes say while --wait waits.
func waitingLine(e upload.Event) string {
	return noteLine("%s: %s is %s, not processed yet; looking again in %s", e.File, e.FileID, e.Message, e.Wait.Round(100*time.Millisecond))
}

func warningLine(e upload.Event) string {
	return warnLine("%s: %s", e.File, e.Message)
}

// eventsVersion is the version of the JSON event stream (docs/events.md):
// it changes only when a field changes meaning or goes away.
const eventsVersion = 1

// jsonEvent is one line of --progress json. Progress fields are pointers so
// that the events about a whole run (failed, interrupted, summary) leave out
// what does not apply.
type jsonEvent struct {
	V        int    `json:"v"`
	Time     string `json:"time"`
	Event    string `json:"event"`
	File     string `json:"file,omitempty"`
	UploadID string `json:"upload_id,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Part     int    `json:"part,omitempty"`
	Attempt  int    `json:"attempt,omitempty"`
	WaitMS   int64  `json:"wait_ms,omitempty"`
	Error    string `json:"error,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Resume   string `json:"resume,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Resumed  bool   `json:"resumed,omitempty"`

	BytesSent  *int64 `json:"bytes_sent,omitempty"`
	BytesDone  *int64 `json:"bytes_done,omitempty"`
	BytesTotal *int64 `json:"bytes_total,omitempty"`
	PartsDone  *int   `json:"parts_done,omitempty"`
	PartsTotal *int   `json:"parts_total,omitempty"`
	Retries    *int   `json:"retries,omitempty"`
	Stalls     int    `json:"stalls,omitempty"`

	Files       *int   `json:"files,omitempty"`
	Completed   *int   `json:"completed,omitempty"`
	Skipped     *int   `json:"skipped,omitempty"`
	Failed      *int   `json:"failed,omitempty"`
	Interrupted *int   `json:"interrupted,omitempty"`
	NotStarted  *int   `json:"not_started,omitempty"`
	Ignored     int    `json:"ignored,omitempty"`
	TookMS      *int64 `json:"took_ms,omitempty"`
}

// jsonPrinter writes one JSON object per line: every event, every failure
// and the summary, and nothing else. Made by newPrinter, it writes on the
// goroutine of a textOut (the engine's goroutines only queue their lines,
// in order) until close; made for one line, it writes at once.
type jsonPrinter struct {
	mu  sync.Mutex // guards out, and the writes at once
	w   io.Writer
	out *textOut // nil: write at once
}

// newJSONPrinter is a jsonPrinter that writes on its own goroutine until
// close.
func newJSONPrinter(w io.Writer) *jsonPrinter {
	out := newTextOut(w, nil)
	out.render = func(bool) { out.flush() }
	out.start(time.Second)
	return &jsonPrinter{w: w, out: out}
}

func (p *jsonPrinter) write(e jsonEvent) {
	e.V, e.Time = eventsVersion, time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(e)
	b = append(b, '\n')
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out != nil {
		p.out.post(func(w io.Writer) { _, _ = w.Write(b) })
		return
	}
	_, _ = p.w.Write(b)
}

func (p *jsonPrinter) report(e upload.Event) {
	if e.Type == upload.EventSkipped {
		e.Type = upload.EventWarning // as version 1 of the stream has it
	}
	p.write(jsonEvent{
		Event: string(e.Type), File: e.File, UploadID: e.UploadID, FileID: e.FileID, Part: e.Part, Attempt: e.Attempt,
		WaitMS: e.Wait.Milliseconds(), Error: e.Error, Reason: e.Reason, Message: e.Message, Resumed: e.Resumed,
		BytesSent: &e.BytesSent, BytesDone: &e.BytesDone, BytesTotal: &e.BytesTotal, PartsDone: &e.PartsDone,
		PartsTotal: &e.PartsTotal, Retries: &e.Retries, Stalls: e.Stalls,
	})
}

// failed is a "failed" event, or "interrupted" when the run was stopped,
// with what the error says, the hint and the exit code.
func (p *jsonPrinter) failed(ctx context.Context, f fileFailure) {
	r := describeError(ctx, f.Err)
	ev := "failed"
	if f.Interrupted {
		ev = "interrupted"
	}
	p.write(jsonEvent{Event: ev, File: f.File, Message: r.Message, Detail: r.Detail, Hint: r.Hint, Resume: f.Resume, ExitCode: &f.Code})
}

func (p *jsonPrinter) summary(s runSummary) {
	took := s.Took.Milliseconds()
	p.write(jsonEvent{Event: "summary", Files: &s.Files, Completed: &s.Completed, Skipped: &s.Skipped, Failed: &s.Failed, Interrupted: &s.Interrupted,
		NotStarted: &s.NotStarted, Ignored: s.Ignored, BytesSent: &s.Sent, Retries: &s.Retries, TookMS: &took})
}

func (p *jsonPrinter) above(write func() error) error { return write() }

// close writes what is queued; later lines are written at once.
func (p *jsonPrinter) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return
	}
	p.out.halt()
	p.out.mu.Lock()
	p.out.flush()
	p.out.mu.Unlock()
	p.out = nil
}

// plainPrinter writes a line when a file starts, retries, warns or ends,
// and a line per file in flight every interval: for CI logs, where a
// redrawn bar would be noise.
type plainPrinter struct {
	*textOut
	interval time.Duration
	last     map[string]time.Time // when each file's last progress line was written
}

func newPlainPrinter(w io.Writer, interval time.Duration, m *runModel) *plainPrinter {
	p := &plainPrinter{textOut: newTextOut(w, m), interval: interval, last: map[string]time.Time{}}
	p.render = p.draw
	return p
}

func (p *plainPrinter) report(e upload.Event) {
	p.observe(e, func(e upload.Event) string {
		switch {
		case e.Type == upload.EventStart && !e.Resumed:
			return noteLine("%s: starting upload %s, %s in %s", e.File, e.UploadID, sizeText(e.BytesTotal), plural(e.PartsTotal, "part"))
		case e.Type == upload.EventCompleted:
			f, _ := p.model.file(e.File)
			sent := f.size - f.atStart
			return noteLine("%s: completed %s (%s sent now) in %s (%s/s), %s%s: %s", e.File, sizeText(f.size), sizeText(sent),
				f.took.Round(10*time.Millisecond), sizeText(int64(float64(sent)/max(f.took.Seconds(), 0.001))), plural(e.Retries, "retry"), stalled(e.Stalls), e.FileID)
		}
		return eventLine(e)
	})
}

// eventLine is what both text modes say of an event that is not progress:
// a warning, a retry, a wait, a skip or a resume ("" for the others).
func eventLine(e upload.Event) string {
	switch e.Type {
	case upload.EventWarning:
		return warningLine(e)
	case upload.EventRetry:
		return retryLine(e)
	case upload.EventWaiting:
		return waitingLine(e)
	case upload.EventSkipped:
		return noteLine("%s: not sent: uploaded before as %s (--skip-existing)", e.File, e.FileID)
	case upload.EventStart:
		if e.Resumed {
			return resumeLine(e)
		}
	}
	return ""
}

// draw writes the pending lines, then a progress line for each file in
// flight whose last one is interval old; the caller holds mu.
func (p *plainPrinter) draw(bool) {
	p.flush()
	now := p.model.now()
	for _, f := range p.model.view().files {
		if f.state != fileSending {
			delete(p.last, f.path)
			continue
		}
		last, ok := p.last[f.path]
		if !ok {
			p.last[f.path] = now // its start line was just written
			continue
		}
		if now.Sub(last) < p.interval {
			continue
		}
		p.last[f.path] = now
		pct := 100 * float64(f.sent) / float64(max(f.size, 1))
		notef(p.w, "%s: %s of %s on the server (%.0f%%), parts %d/%d acknowledged, %s, %s, %s%s", f.path, sizeText(f.sent), sizeText(f.size),
			pct, f.partsDone, f.parts, rateText(f.rate), etaText(f.eta), plural(f.retries, "retry"), stalled(f.stalls))
	}
}

func (p *plainPrinter) failed(ctx context.Context, f fileFailure) {
	p.model.fail(f.File, f.Size, f.Err, f.Interrupted)
	p.post(func(w io.Writer) { textFailed(ctx, w, f) })
}

func (p *plainPrinter) summary(s runSummary) {
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush()
	fmt.Fprintln(p.w, s.text())
}

func (p *plainPrinter) above(write func() error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush()
	return write()
}

func (p *plainPrinter) close() {
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush()
}

// resumeLine is what the text modes say when a file's upload is resumed.
func resumeLine(e upload.Event) string {
	if e.PartsDone == 0 {
		return noteLine("%s: resuming upload %s: no part had been acknowledged; sending all %s", e.File, e.UploadID, plural(e.PartsTotal, "part"))
	}
	return noteLine("%s: resuming upload %s: %d of %s (%s) already on the server", e.File, e.UploadID, e.PartsDone, plural(e.PartsTotal, "part"), sizeText(e.BytesDone))
}

// rateText is a rate, or "- /s" while it is not known yet.
func rateText(rate float64) string {
	if rate <= 0 {
		return "- /s"
	}
	return sizeText(int64(rate)) + "/s"
}

// etaText is a time left, "- left" while it is not known.
func etaText(eta time.Duration) string {
	if eta < 0 {
		return "- left"
	}
	return eta.Round(time.Second).String() + " left"
}

// stalled is " (N stalled)" when some retries were stalls.
func stalled(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d stalled)", n)
}

// plural is "1 part", "2 parts", "1 retry", "0 retries".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// sizeText is a byte size as people read it: "73 B", "4.5 KiB", "60 MiB".
func sizeText(n int64) string { return units.FormatSize(n) }
