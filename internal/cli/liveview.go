package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/uploads-dev/uploads/internal/upload"
)

// liveView is the bar mode: a block of lines at the bottom of the
// terminal, redrawn in place, with a bar per file in flight and, when the
// run has several files, a total line (as rclone -P or docker pull show
// them). Messages (warnings, retries, errors, stdout's results) are printed
// above the block, which is then drawn again under them. It renders the
// run's model (runModel) every redrawEvery, on its own goroutine, at the
// terminal's current width; progressbar draws each bar.
type liveView struct {
	*textOut
	width  func() int
	single bool // the run has one file
	drawn  int  // lines of the block on the screen
	over   bool // the summary is out: nothing more is drawn
}

// redrawEvery is the rhythm of the redraws.
const redrawEvery = 100 * time.Millisecond

func newLiveView(w io.Writer, width func() int, m *runModel) *liveView {
	v := &liveView{textOut: newTextOut(w, m), width: width, single: len(m.order) <= 1}
	v.render = v.draw
	return v
}

func (v *liveView) report(e upload.Event) {
	v.observe(e, func(e upload.Event) string {
		if e.Type == upload.EventSkipped && !v.single {
			return "" // of several, the summary counts them and stdout has their ids
		}
		return eventLine(e)
	})
}

func (v *liveView) failed(ctx context.Context, f fileFailure) {
	v.model.fail(f.File, f.Size, f.Err, f.Interrupted)
	if !f.Interrupted {
		v.post(func(w io.Writer) { textFailed(ctx, w, f) })
	}
}

// summary draws the block a last time (the total, and the bars of files
// that were interrupted, with what their journals keep) and prints the
// summary under it: the run is over.
func (v *liveView) summary(s runSummary) {
	v.halt()
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
	v.draw(false) // what happened before write is above it
	v.clear()
	err := write()
	v.draw(false)
	return err
}

// close draws the block a last time and leaves it (after Ctrl-C, the bars
// show what each file's journal keeps), and ends its line.
func (v *liveView) close() {
	v.halt()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.draw(true)
	if v.drawn > 0 {
		fmt.Fprintln(v.w)
		v.drawn = 0
	}
	v.over = true
}

// clear erases the block and leaves the cursor where it began.
func (v *liveView) clear() {
	if v.drawn == 0 {
		return
	}
	_, _ = io.WriteString(v.w, "\r"+cursorUp(v.drawn-1)+"\x1b[J")
	v.drawn = 0
}

// draw prints the pending lines and the last lines of the files that
// ended above the block, and redraws the block from the model; the caller
// holds mu.
func (v *liveView) draw(final bool) {
	if v.over {
		v.flush()
		return
	}
	rv := v.model.view()
	width := v.width()
	v.clear()
	v.flush()
	var lines []string
	for _, f := range rv.files {
		// A file that ended is in one view only: a completed one leaves
		// its last line above the block, a failed one its error (posted).
		switch f.state {
		case fileCompleted:
			fmt.Fprintln(v.w, fileLine(f, width))
		case fileFailed:
		default:
			lines = append(lines, fileLine(f, width))
		}
	}
	if rv.nfiles > 1 && rv.total > 0 {
		lines = append(lines, totalLine(rv, width, final))
	}
	_, _ = io.WriteString(v.w, strings.Join(lines, "\n"))
	v.drawn = len(lines)
}

// fileLine is a file's line: its name, parts acknowledged, a bar, what
// the server has and the rate, or, after an interruption, what its journal
// keeps. It is cut to width so that it never wraps (a wrapped line could
// not be redrawn in place).
func fileLine(f fileView, width int) string {
	l := layoutBar(width, f.path, f.parts)
	counter := fmt.Sprintf("%d/%d", f.partsDone, f.parts)
	figures := fmt.Sprintf("(%s/%s, %s)", sizeText(f.sent), sizeText(f.size), rateText(f.rate))
	switch f.state {
	case fileCompleted:
		figures = fmt.Sprintf("(%s, %s/s)", sizeText(f.size), sizeText(int64(float64(f.size-f.atStart)/max(f.took.Seconds(), 0.001))))
	case fileInterrupted:
		counter = fmt.Sprintf("%d/%d", f.keptParts, f.totalParts)
		figures = fmt.Sprintf("interrupted: %d of %d parts kept", f.keptParts, f.totalParts)
	default:
		if l.predict {
			figures = strings.TrimSuffix(figures, ")") + ", " + etaText(f.eta) + ")"
		}
	}
	return cut(barText(l, l.name+" "+counter, f.sent, f.size)+figures, width)
}

// totalLine is the run's line: files ended of those sent now, a bar of the
// bytes, the rate and the time left (not once the run is over).
func totalLine(rv runView, width int, final bool) string {
	l := layoutBar(width, "total", rv.nfiles)
	figures := fmt.Sprintf("(%s/%s", sizeText(rv.sent), sizeText(rv.total))
	if !final {
		figures += ", " + rateText(rv.rate)
		if l.predict {
			figures += ", " + etaText(rv.eta)
		}
	}
	return cut(barText(l, fmt.Sprintf("total %d/%d", rv.ended, rv.nfiles), rv.sent, rv.total)+figures+")", width)
}

// barText is progressbar's rendering of a bar of done out of total, with
// desc before it.
func barText(l barLayout, desc string, done, total int64) string {
	b := progressbar.NewOptions64(max(total, 1),
		progressbar.OptionSetWriter(io.Discard),
		progressbar.OptionSetWidth(l.barWidth),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetRenderBlankState(true),
	)
	_ = b.Set64(min(max(done, 0), max(total, 1)))
	return strings.TrimRight(strings.TrimLeft(b.String(), "\r"), " ") + " "
}

// cut cuts s to width-1 columns.
func cut(s string, width int) string {
	if r := []rune(s); width > 1 && len(r) > width-1 {
		return string(r[:width-1])
	}
	return s
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
// " 100% |" + "| (1000.0 MiB/1000.0 MiB, 999.9 MiB/s)" and, with predict, ", 59m59s left".
const (
	barStats       = 46
	barStatsTime   = 14
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

// shorten cuts s to n runes. A path loses its directories first, from
// the left ("…/name/clip.mp4"), so that files in one deep directory stay
// apart; what is left is cut in the middle, with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		if len([]rune(s[i:]))+1 <= n {
			dirs := []rune(s[:i])
			keep := n - 1 - len([]rune(s[i:]))
			return "…" + string(dirs[len(dirs)-keep:]) + s[i:]
		}
		s = s[i+1:]
		if r = []rune(s); len(r) <= n {
			return s
		}
	}
	if n < 3 {
		return string(r[:n])
	}
	head := (n - 1) / 2
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// liveWidth is stderr's width now, read again at each redraw so that a
// resized terminal is followed; ios.ErrWidth when stderr is not the
// process's terminal (tests give a width).
func (s IOStreams) liveWidth() func() int {
	f, ok := s.Err.(*os.File)
	if !ok || !s.ErrTTY {
		return s.ErrWidth
	}
	return func() int {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
		return s.ErrWidth()
	}
}
