package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/uploads-dev/uploads/internal/upload"
)

// liveView is the bar mode: a block of lines at the bottom of the
// terminal, redrawn in place, with a bar per file in flight and, when the
// run has several files, a total line (as rclone -P or docker pull show
// them). Messages (warnings, retries, errors, stdout's results) are printed
// above the block, which is then drawn again under them. Each bar is a
// progressbar rendered off screen; the view places its lines.
type liveView struct {
	mu    sync.Mutex
	w     io.Writer
	width int

	files    []*liveFile // in flight, in the order they started
	nfiles   int         // files in the run
	ended    int         // files that completed or failed
	total    *progressbar.ProgressBar
	sent     map[string]int64 // bytes on the server or on their way, per file
	drawn    int              // lines of the block on the screen
	lastDraw time.Time
	over     bool             // the summary is out: nothing more is drawn
	now      func() time.Time // the clock of the redraws
}

type liveFile struct {
	file string
	name string // as the bar shows it
	bar  *progressbar.ProgressBar
}

// redrawEvery limits the redraws of the block.
const redrawEvery = 100 * time.Millisecond

func newLiveView(w io.Writer, width, files int, total int64) *liveView {
	v := &liveView{w: w, width: width, nfiles: files, sent: map[string]int64{}, now: time.Now}
	if files > 1 && total > 0 {
		l := layoutBar(width, "total", files)
		v.total = newBar(total, l)
	}
	return v
}

// newBar is a byte bar rendered off screen: the view reads its line.
func newBar(total int64, l barLayout) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max(total, 1),
		progressbar.OptionSetWriter(io.Discard),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(l.barWidth),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetPredictTime(l.predict),
	)
}

// startAt sets a new bar to bytes already on the server, which must not
// count towards its rate.
func startAt(b *progressbar.ProgressBar, bytes int64) {
	_ = b.Set64(bytes)
	b.Reset()
	_ = b.Set64(bytes)
}

func (v *liveView) find(file string) (int, *liveFile) {
	for i, f := range v.files {
		if f.file == file {
			return i, f
		}
	}
	return -1, nil
}

func (v *liveView) report(e upload.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	name := e.File
	switch e.Type {
	case upload.EventWarning:
		v.printAbove(warningLine(e))
	case upload.EventRetry:
		v.printAbove(retryLine(e))
	case upload.EventWaiting:
		v.printAbove(waitingLine(e))
	}
	i, f := v.find(e.File)
	if e.Type == upload.EventStart {
		if f == nil {
			l := layoutBar(v.width, name, e.PartsTotal)
			f = &liveFile{file: e.File, name: l.name, bar: newBar(e.BytesTotal, l)}
			v.files = append(v.files, f)
		}
		startAt(f.bar, e.BytesDone)
		if v.total != nil {
			v.setTotal(e.File, e.BytesDone, true)
		}
		if e.Resumed {
			v.printAbove(fmt.Sprintf("uploads: %s: resuming upload %s: %d of %d parts (%s) already on the server",
				name, e.UploadID, e.PartsDone, e.PartsTotal, mib(e.BytesDone)))
		}
	}
	if f == nil {
		return
	}
	f.bar.Describe(fmt.Sprintf("%s %d/%d", f.name, e.PartsDone, e.PartsTotal))
	switch e.Type {
	case upload.EventStart:
		v.draw(true)
	case upload.EventPartDone, upload.EventProgress, upload.EventRetry:
		// The bytes on their way count: the bar moves with them.
		_ = f.bar.Set64(e.BytesSent)
		v.setTotal(e.File, e.BytesSent, false)
		v.draw(false)
	case upload.EventCompleted:
		// The file's last line stays above the block, at 100%.
		_ = f.bar.Set64(e.BytesTotal)
		v.setTotal(e.File, e.BytesTotal, false)
		v.files = append(v.files[:i], v.files[i+1:]...)
		v.ended++
		v.printAbove(v.line(f.bar))
	}
}

// setTotal records file's bytes and moves the total bar; start marks bytes
// already on the server (they do not count towards the rate).
func (v *liveView) setTotal(file string, bytes int64, start bool) {
	if v.total == nil {
		return
	}
	v.sent[file] = bytes
	var sum int64
	for _, n := range v.sent {
		sum += n
	}
	if start && v.total.State().CurrentBytes == 0 {
		startAt(v.total, sum)
	} else {
		_ = v.total.Set64(min(sum, v.total.GetMax64()))
	}
}

func (v *liveView) failed(ctx context.Context, f fileFailure) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if f.Interrupted {
		return // the bar stays as it stopped
	}
	if i, lf := v.find(f.File); lf != nil {
		v.files = append(v.files[:i], v.files[i+1:]...)
	}
	v.ended++
	v.clear()
	textFailed(ctx, v.w, f)
	v.draw(true)
}

// summary leaves the block where it is (the total, and the bars of files
// that were interrupted) and prints the summary under it: the run is over.
func (v *liveView) summary(s runSummary) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.draw(true)
	if v.drawn > 0 {
		fmt.Fprintln(v.w)
	}
	fmt.Fprintln(v.w, s.text())
	v.drawn, v.over = 0, true
}

func (v *liveView) above(write func() error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clear()
	err := write()
	v.draw(true)
	return err
}

// close leaves the block as it is (after Ctrl-C, the bars show where each
// file stopped) and ends its line.
func (v *liveView) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.drawn > 0 {
		fmt.Fprintln(v.w)
		v.drawn = 0
	}
}

// printAbove prints a line above the block; the caller holds v.mu.
func (v *liveView) printAbove(line string) {
	v.clear()
	fmt.Fprintln(v.w, line)
	v.draw(true)
}

// line is a bar's current line, cut to the terminal's width so that it
// never wraps (a wrapped line could not be redrawn in place).
func (v *liveView) line(b *progressbar.ProgressBar) string {
	s := strings.TrimRight(strings.TrimLeft(b.String(), "\r"), " ")
	if r := []rune(s); v.width > 1 && len(r) > v.width-1 {
		s = string(r[:v.width-1])
	}
	return s
}

// clear erases the block and leaves the cursor where it began.
func (v *liveView) clear() {
	if v.drawn == 0 {
		return
	}
	_, _ = io.WriteString(v.w, "\r"+cursorUp(v.drawn-1)+"\x1b[J")
	v.drawn = 0
}

// draw redraws the block in place (at most every redrawEvery unless
// force).
func (v *liveView) draw(force bool) {
	now := v.now()
	if v.over || (!force && now.Sub(v.lastDraw) < redrawEvery) {
		return
	}
	var lines []string
	for _, f := range v.files {
		lines = append(lines, v.line(f.bar))
	}
	if v.total != nil {
		v.total.Describe(fmt.Sprintf("total %d/%d", v.ended, v.nfiles))
		_ = v.total.Add64(0)
		lines = append(lines, v.line(v.total))
	}
	var b strings.Builder
	if v.drawn > 0 {
		b.WriteString("\r" + cursorUp(v.drawn-1) + "\x1b[J")
	}
	b.WriteString(strings.Join(lines, "\n"))
	_, _ = io.WriteString(v.w, b.String())
	v.drawn, v.lastDraw = len(lines), now
}

// cursorUp moves the cursor n lines up.
func cursorUp(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("\x1b[%dA", n)
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
// parts: one line, never more.
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
