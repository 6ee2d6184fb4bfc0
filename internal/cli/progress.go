package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	Sent                                                                int64
	Took                                                                time.Duration
}

func (s runSummary) text() string {
	line := fmt.Sprintf("uploads: %d of %d files uploaded (%s sent in %s, %s/s, %d retries)", s.Completed, s.Files,
		units.FormatSize(s.Sent), s.Took.Round(10*time.Millisecond), units.FormatSize(int64(float64(s.Sent)/max(s.Took.Seconds(), 0.001))),
		s.Retries)
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
	return line
}

// newPrinter is the printer of mode (resolved: not auto) on ios's stderr;
// files is the number of files in the run and total their bytes (0 when
// unknown), for the live view's total line.
func newPrinter(mode string, ios IOStreams, interval time.Duration, files int, total int64) printer {
	switch mode {
	case progressJSON:
		return &jsonPrinter{w: ios.Err}
	case progressBar:
		return newLiveView(ios.Err, ios.ErrWidth(), files, total)
	case progressPlain:
		return &plainPrinter{w: ios.Err, interval: interval, files: map[string]*plainFile{}}
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
		reportError(ctx, w, fmt.Errorf("%s: %w", f.File, f.Err))
	}
}

// retryLine and warningLine are what the text modes say of a retry and a
// warning: a retry names its reason and its wait, so that a server that is
// down does not look like a hung upload.
func retryLine(e upload.Event) string {
	what := "sending it again"
	if e.Reason == "stalled" {
		what = "cut and sent again"
	}
	return fmt.Sprintf("uploads: warning: %s: part %d: %s; %s in %s (retry %d)",
		e.File, e.Part, e.Error, what, e.Wait.Round(time.Millisecond), e.Attempt)
}

// waitingLine is what the text modes say while --wait waits.
func waitingLine(e upload.Event) string {
	return fmt.Sprintf("uploads: %s: %s is %s, not processed yet; looking again in %s", e.File, e.FileID, e.Message, e.Wait.Round(100*time.Millisecond))
}

func warningLine(e upload.Event) string {
	return fmt.Sprintf("uploads: warning: %s: %s", e.File, e.Message)
}

// EventsVersion is the version of the JSON event stream (docs/events.md):
// it changes only when a field changes meaning or goes away.
const EventsVersion = 1

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
	TookMS      *int64 `json:"took_ms,omitempty"`
}

// jsonPrinter writes one JSON object per line: every event, every failure
// and the summary, and nothing else.
type jsonPrinter struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *jsonPrinter) write(e jsonEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.V, e.Time = EventsVersion, time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(e)
	fmt.Fprintf(p.w, "%s\n", b)
}

func (p *jsonPrinter) report(e upload.Event) {
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
		NotStarted: &s.NotStarted, BytesSent: &s.Sent, Retries: &s.Retries, TookMS: &took})
}

func (p *jsonPrinter) above(write func() error) error { return write() }
func (p *jsonPrinter) close()                         {}

// rateWindow is how far back the rates shown look: recent enough to follow
// a link that slows down, long enough not to jump with each part.
const rateWindow = 10 * time.Second

// minETAWindow is how much of the window must be seen before a rate (and
// so a time left) means something.
const minETAWindow = 2 * time.Second

// sample is the bytes sent at a time.
type sample struct {
	at    time.Time
	bytes int64
}

// meter is a moving-window rate.
type meter struct{ samples []sample }

// add records bytes sent by now and returns the rate over the window, or
// 0 while less than minETAWindow has been seen.
func (m *meter) add(now time.Time, bytes int64) float64 {
	m.samples = append(m.samples, sample{now, bytes})
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) >= rateWindow {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	dt := now.Sub(first.at)
	if dt < minETAWindow {
		return 0
	}
	return float64(bytes-first.bytes) / dt.Seconds()
}

// plainPrinter writes a line per file every interval: for CI logs, where
// a redrawn bar would be noise.
type plainPrinter struct {
	mu       sync.Mutex
	w        io.Writer
	interval time.Duration
	files    map[string]*plainFile
}

type plainFile struct {
	start, last time.Time
	from        int64 // bytes already on the server at the start
	rate        meter
}

func (p *plainPrinter) report(e upload.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	name := e.File
	f := p.files[e.File]
	switch e.Type {
	case upload.EventWarning:
		fmt.Fprintln(p.w, warningLine(e))
	case upload.EventRetry:
		fmt.Fprintln(p.w, retryLine(e))
	case upload.EventWaiting:
		fmt.Fprintln(p.w, waitingLine(e))
	case upload.EventStart:
		f = &plainFile{start: now, last: now, from: e.BytesDone}
		f.rate.add(now, e.BytesDone)
		p.files[e.File] = f
		how := "starting"
		if e.Resumed {
			how = fmt.Sprintf("resuming (%d of %d parts, %s, already on the server)", e.PartsDone, e.PartsTotal, mib(e.BytesDone))
		}
		fmt.Fprintf(p.w, "uploads: %s: %s upload %s, %s in %d parts\n", name, how, e.UploadID, mib(e.BytesTotal), e.PartsTotal)
		return
	}
	if f == nil {
		return
	}
	switch e.Type {
	case upload.EventCompleted:
		took := now.Sub(f.start)
		sent := e.BytesTotal - f.from
		fmt.Fprintf(p.w, "uploads: %s: completed %s (%s sent now) in %s (%s/s), %d retries%s: %s\n", name, mib(e.BytesTotal), mib(sent),
			took.Round(10*time.Millisecond), mib(int64(float64(sent)/max(took.Seconds(), 0.001))), e.Retries, stalled(e.Stalls), e.FileID)
		delete(p.files, e.File)
	case upload.EventPartDone, upload.EventRetry, upload.EventProgress:
		rate := f.rate.add(now, e.BytesSent)
		if now.Sub(f.last) < p.interval {
			return
		}
		f.last = now
		pct := 100 * float64(e.BytesSent) / float64(max(e.BytesTotal, 1))
		fmt.Fprintf(p.w, "uploads: %s: %s of %s sent (%.0f%%), parts %d/%d acknowledged, %s, %s, retries %d%s\n", name, mib(e.BytesSent), mib(e.BytesTotal),
			pct, e.PartsDone, e.PartsTotal, rateText(rate), etaText(rate, e.BytesTotal-e.BytesSent), e.Retries, stalled(e.Stalls))
	}
}

func (p *plainPrinter) failed(ctx context.Context, f fileFailure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.files, f.File)
	textFailed(ctx, p.w, f)
}

func (p *plainPrinter) summary(s runSummary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, s.text())
}

func (p *plainPrinter) above(write func() error) error { return write() }
func (p *plainPrinter) close()                         {}

// rateText is a rate, or "- MiB/s" while it is not known yet.
func rateText(rate float64) string {
	if rate <= 0 {
		return "- MiB/s"
	}
	return mib(int64(rate)) + "/s"
}

// etaText is the time left at rate, blank ("ETA -") until the rate is known.
func etaText(rate float64, left int64) string {
	if rate <= 0 {
		return "ETA -"
	}
	return "ETA " + time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second).String()
}

// stalled is " (N stalled)" when some retries were stalls.
func stalled(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d stalled)", n)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
