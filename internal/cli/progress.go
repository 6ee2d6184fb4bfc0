package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/uploads-dev/uploads/internal/upload"
)

// Progress modes of `uploads put`.
const (
	progressAuto  = "auto"  // a bar on a terminal, plain lines otherwise
	progressBar   = "bar"   // a progress bar
	progressPlain = "plain" // a line every few seconds, for CI logs
	progressJSON  = "json"  // one JSON object per event
	progressNone  = "none"  // errors only (--quiet)
)

// progress renders upload events on stderr.
type progress struct {
	mode     string
	w        io.Writer
	interval time.Duration

	// width is the terminal's width in columns (80 when unknown).
	width int

	mu    sync.Mutex
	bars  map[string]*progressbar.ProgressBar
	names map[string]string // the name each bar shows
	last  map[string]time.Time
	start map[string]time.Time
	from  map[string]int64 // bytes already on the server at the start
}

func newProgress(mode string, w io.Writer, interval time.Duration) *progress {
	return &progress{mode: mode, w: w, interval: interval, width: terminalWidth(w), names: map[string]string{},
		bars: map[string]*progressbar.ProgressBar{}, last: map[string]time.Time{}, start: map[string]time.Time{}, from: map[string]int64{}}
}

// report is the upload.Reporter.
func (p *progress) report(e upload.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := filepath.Base(e.File)
	if e.Type == upload.EventWarning && p.mode != progressJSON && p.mode != progressNone {
		p.clearBar(e.File)
		fmt.Fprintf(p.w, "uploads: warning: %s: %s\n", name, e.Message)
	}
	if e.Type == upload.EventRetry && p.mode != progressJSON && p.mode != progressNone {
		// A retry says why and when, so that a server that is down does
		// not look like a hung upload.
		p.clearBar(e.File)
		what := "sending it again"
		if e.Reason == "stalled" {
			what = "cut and sent again"
		}
		fmt.Fprintf(p.w, "uploads: warning: %s: part %d: %s; %s in %s (retry %d)\n",
			name, e.Part, e.Error, what, e.Wait.Round(time.Millisecond), e.Attempt)
	}
	switch p.mode {
	case progressJSON:
		p.writeJSON(jsonEvent{
			Event: string(e.Type), File: e.File, UploadID: e.UploadID, FileID: e.FileID, Part: e.Part, Attempt: e.Attempt,
			WaitMS: e.Wait.Milliseconds(), Error: e.Error, Reason: e.Reason, Message: e.Message, Resumed: e.Resumed,
			BytesSent: &e.BytesSent, BytesDone: &e.BytesDone, BytesTotal: &e.BytesTotal, PartsDone: &e.PartsDone,
			PartsTotal: &e.PartsTotal, Retries: &e.Retries, Stalls: e.Stalls,
		})
	case progressBar:
		p.bar(e, name)
	case progressPlain:
		p.plain(e, name)
	}
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

	Files       *int `json:"files,omitempty"`
	Completed   *int `json:"completed,omitempty"`
	Failed      *int `json:"failed,omitempty"`
	Interrupted *int `json:"interrupted,omitempty"`
	NotStarted  *int `json:"not_started,omitempty"`
}

// writeJSON writes one event line; the caller holds p.mu.
func (p *progress) writeJSON(e jsonEvent) {
	e.V, e.Time = EventsVersion, time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(e)
	fmt.Fprintf(p.w, "%s\n", b)
}

// failed reports a file that did not complete, in JSON mode: an
// "interrupted" event when the run was stopped, else "failed", with what
// the error says, the hint and the exit code. It reports false in other
// modes (the error is then printed as text).
func (p *progress) failed(file string, interrupted bool, r errorReport, code int, resume string) bool {
	if p.mode != progressJSON {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := "failed"
	if interrupted {
		ev = "interrupted"
	}
	p.writeJSON(jsonEvent{Event: ev, File: file, Message: r.Message, Detail: r.Detail, Hint: r.Hint, Resume: resume, ExitCode: &code})
	return true
}

// summary reports a run of several files, in JSON mode.
func (p *progress) summary(files, completed, failed, interrupted, notStarted int) bool {
	if p.mode != progressJSON {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeJSON(jsonEvent{Event: "summary", Files: &files, Completed: &completed, Failed: &failed, Interrupted: &interrupted, NotStarted: &notStarted})
	return true
}

// barLayout is how a bar fits a terminal's width: the file's name (cut in
// the middle when long), the bar's width, and whether the time left shows.
type barLayout struct {
	name     string
	barWidth int
	predict  bool
}

// barStats is the room the figures after the bar take at most:
// " 100% |" + "| (1000/1000 MiB, 999 MiB/s)" and, with predict, " [59m59s:59m59s]".
const (
	barStats       = 36
	barStatsTime   = 16
	minBarWidth    = 6
	maxBarWidth    = 30
	minNameColumns = 8
)

// layoutBar fits a bar to width columns for a file called name with parts
// parts: one line, never more (a wrapped line would be redrawn on a new
// line each time).
func layoutBar(width int, name string, parts int) barLayout {
	l := barLayout{predict: width >= 90}
	stats := barStats
	if l.predict {
		stats += barStatsTime
	}
	counter := len(fmt.Sprintf(" %d/%d", parts, parts))
	// The name gets at most half of what the figures leave, the bar the rest.
	room := min(width-1-stats-counter-minBarWidth, (width-1-stats-counter)/2)
	l.name = shorten(name, max(room, minNameColumns))
	l.barWidth = min(max(width-1-stats-counter-len([]rune(l.name)), minBarWidth), maxBarWidth)
	return l
}

// shorten cuts s to n runes, with an ellipsis in the middle.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n < 3 {
		return string(r[:n])
	}
	head := (n - 1) / 2
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// lineWriter keeps each redraw of a bar to one line of the terminal: what
// follows a carriage return is cut to width-1 columns.
type lineWriter struct {
	w     io.Writer
	width int
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	segs := strings.Split(string(p), "\r")
	for i, seg := range segs {
		if r := []rune(seg); lw.width > 1 && len(r) > lw.width-1 {
			segs[i] = string(r[:lw.width-1])
		}
	}
	if _, err := io.WriteString(lw.w, strings.Join(segs, "\r")); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (p *progress) clearBar(file string) {
	if b := p.bars[file]; b != nil {
		_ = b.Clear()
	}
}

func (p *progress) bar(e upload.Event, name string) {
	b := p.bars[e.File]
	if b == nil {
		if e.Type != upload.EventStart {
			return
		}
		l := layoutBar(p.width, name, e.PartsTotal)
		b = progressbar.NewOptions64(e.BytesTotal,
			progressbar.OptionSetWriter(&lineWriter{w: p.w, width: p.width}),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(l.barWidth),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(l.predict),
		)
		p.bars[e.File] = b
		p.names[e.File] = l.name
	}
	b.Describe(fmt.Sprintf("%s %d/%d", p.names[e.File], e.PartsDone, e.PartsTotal))
	if e.Type == upload.EventStart {
		// Parts acknowledged by an earlier run do not count towards the rate.
		_ = b.Set64(e.BytesDone)
		b.Reset()
		_ = b.Set64(e.BytesDone)
		if e.Resumed {
			_ = b.Clear()
			fmt.Fprintf(p.w, "uploads: %s: resuming upload %s: %d of %d parts (%s) already on the server\n",
				name, e.UploadID, e.PartsDone, e.PartsTotal, mib(e.BytesDone))
		}
	}
	switch e.Type {
	case upload.EventPartDone, upload.EventProgress, upload.EventRetry:
		// The bytes on their way count: the bar moves with them.
		_ = b.Set64(e.BytesSent)
	case upload.EventCompleted:
		// The bar ends its line before stdout gets the file id.
		_ = b.Finish()
		fmt.Fprintln(p.w)
		delete(p.bars, e.File)
	}
}

func (p *progress) plain(e upload.Event, name string) {
	now := time.Now()
	switch e.Type {
	case upload.EventStart:
		p.start[e.File], p.last[e.File], p.from[e.File] = now, now, e.BytesDone
		how := "starting"
		if e.Resumed {
			how = fmt.Sprintf("resuming (%d of %d parts already on the server)", e.PartsDone, e.PartsTotal)
		}
		fmt.Fprintf(p.w, "uploads: %s: %s upload %s, %s in %d parts\n", name, how, e.UploadID, mib(e.BytesTotal), e.PartsTotal)
	case upload.EventCompleted:
		took := now.Sub(p.start[e.File])
		sent := e.BytesTotal - p.from[e.File]
		fmt.Fprintf(p.w, "uploads: %s: completed %s (%s sent now) in %s (%s/s), %d retries%s: %s\n", name, mib(e.BytesTotal), mib(sent),
			took.Round(10*time.Millisecond), mib(int64(float64(sent)/max(took.Seconds(), 0.001))), e.Retries, stalled(e.Stalls), e.FileID)
	case upload.EventPartDone, upload.EventRetry, upload.EventProgress:
		if now.Sub(p.last[e.File]) < p.interval {
			return
		}
		p.last[e.File] = now
		elapsed := now.Sub(p.start[e.File]).Seconds()
		pct := 100 * float64(e.BytesSent) / float64(max(e.BytesTotal, 1))
		rate := float64(e.BytesSent-p.from[e.File]) / max(elapsed, 0.001)
		eta := "ETA -"
		if rate > 0 && e.BytesSent > p.from[e.File] {
			eta = "ETA " + time.Duration(float64(e.BytesTotal-e.BytesSent)/rate*float64(time.Second)).Round(time.Second).String()
		}
		fmt.Fprintf(p.w, "uploads: %s: %s of %s sent (%.0f%%), parts %d/%d acknowledged, %s/s, %s, retries %d%s\n", name, mib(e.BytesSent), mib(e.BytesTotal),
			pct, e.PartsDone, e.PartsTotal, mib(int64(rate)), eta, e.Retries, stalled(e.Stalls))
	}
}

// stalled is " (N stalled)" when some retries were stalls.
func stalled(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d stalled)", n)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
