package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/termtest"
	"github.com/uploads-dev/uploads/internal/upload"
)

// screen is what out leaves on a terminal of width columns.
func screen(t *testing.T, out string, width int) []string {
	t.Helper()
	lines, err := termtest.Screen(out, width)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// The bar is one line at any terminal width, whatever the file's name:
// redrawn in place, it never wraps, and the screen ends with the file's
// line at 100%.
func TestBarFitsTheTerminal(t *testing.T) {
	long := "a-very-long-file-name-for-a-video-clip-from-the-archive-2026-11-29-final-v2.mp4"
	for _, width := range []int{30, 60, 80, 120, 200} {
		for _, name := range []string{"clip.mp4", long} {
			var buf bytes.Buffer
			p := newPrinter(progressBar, IOStreams{Err: &buf, ErrTTY: true, Width: width}, 0, 1, 0)
			clock := time.Unix(0, 0)
			p.(*liveView).now = func() time.Time { return clock }
			total := int64(100 << 20)
			p.report(upload.Event{Type: upload.EventStart, File: name, UploadID: "upload_1", BytesTotal: total, PartsTotal: 8})
			for i := int64(1); i <= 8; i++ {
				p.report(upload.Event{Type: upload.EventProgress, File: name, BytesTotal: total, BytesSent: i * total / 8, PartsTotal: 8, PartsDone: int(i - 1)})
				clock = clock.Add(redrawEvery) // each one is drawn: the view throttles redraws
			}
			p.report(upload.Event{Type: upload.EventCompleted, File: name, FileID: "file-1", BytesTotal: total, BytesSent: total, BytesDone: total, PartsTotal: 8, PartsDone: 8})
			p.close()
			lines := screen(t, buf.String(), width)
			if len(lines) != 1 {
				t.Errorf("width %d, %s: %d lines on the screen, want 1:\n%s", width, name, len(lines), strings.Join(lines, "\n"))
				continue
			}
			if !strings.Contains(lines[0], "100%") || (width >= 60 && !strings.Contains(lines[0], "8/8")) {
				t.Errorf("width %d, %s: last line %q, want 100%% and 8/8 parts", width, name, lines[0])
			}
			// Every drawing of the line fits: no wrap, ever.
			for _, seg := range regexp.MustCompile(`\r|\n|\x1b\[\d*[A-Za-z]`).Split(buf.String(), -1) {
				if cols := len([]rune(seg)); cols > width-1 {
					t.Errorf("width %d, %s: a line of %d columns: %q", width, name, cols, seg)
				}
			}
		}
	}
}

// Several files: a bar per file in flight and a total line under them,
// redrawn in place; a finished file's line moves above the view, as do
// retries, and stdout's lines go above it too.
func TestLiveViewSeveralFiles(t *testing.T) {
	var buf bytes.Buffer
	const width = 100
	p := newPrinter(progressBar, IOStreams{Err: &buf, ErrTTY: true, Width: width}, 0, 3, 300<<20)
	ev := func(e upload.Event) { e.BytesTotal, e.PartsTotal = 100<<20, 4; p.report(e) }
	ev(upload.Event{Type: upload.EventStart, File: "d1/a.mp4", UploadID: "upload_a"})
	ev(upload.Event{Type: upload.EventStart, File: "d2/b.mp4", UploadID: "upload_b", Resumed: true, PartsDone: 2, BytesDone: 50 << 20})
	ev(upload.Event{Type: upload.EventProgress, File: "d1/a.mp4", BytesSent: 30 << 20})
	ev(upload.Event{Type: upload.EventRetry, File: "d2/b.mp4", Part: 3, Error: "503 Service Unavailable", Wait: 2 * time.Second, Attempt: 1, BytesSent: 50 << 20, PartsDone: 2})

	got := screen(t, buf.String(), width)
	want := []string{
		"uploads: d2/b.mp4: resuming upload upload_b: 2 of 4 parts (50.0 MiB) already on the server",
		"uploads: warning: d2/b.mp4: part 3: 503 Service Unavailable; sending it again in 2s (retry 1)",
		"d1/a.mp4 0/4", "d2/b.mp4 2/4", "total 0/3",
	}
	checkScreen(t, got, want)
	if !strings.Contains(got[len(got)-1], "80 MiB/300 MiB") && !strings.Contains(got[len(got)-1], "80/300 MiB") {
		t.Errorf("total line %q: want 80 of 300 MiB", got[len(got)-1])
	}

	ev(upload.Event{Type: upload.EventCompleted, File: "d1/a.mp4", FileID: "file-a", BytesSent: 100 << 20, PartsDone: 4})
	if err := p.above(func() error { _, err := fmt.Fprintln(&buf, "file-a\td1/a.mp4"); return err }); err != nil {
		t.Fatal(err)
	}
	p.failed(context.Background(), fileFailure{File: "d2/b.mp4", Err: errors.New("boom"), Several: true, Code: 1})
	p.summary(runSummary{Files: 3, Completed: 1, Failed: 1, NotStarted: 1, Sent: 150 << 20, Took: time.Second})
	p.close()
	got = screen(t, buf.String(), width)
	want = append(want[:2], "d1/a.mp4 4/4", "file-a\td1/a.mp4", "uploads: error: d2/b.mp4: boom", "total 2/3",
		"uploads: 1 of 3 files uploaded (150 MiB sent in 1s, 150 MiB/s, 0 retries), 1 failed, 1 not started")
	checkScreen(t, got, want)
}

// checkScreen wants each line of the screen to start with want's.
func checkScreen(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(strings.TrimSpace(got[i]), want[i])
	}
	if !ok {
		t.Errorf("screen:\n%s\nwant lines starting with:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The plain mode's rate looks at the last seconds only, and its time left
// is blank until a rate is known.
func TestMeter(t *testing.T) {
	var m meter
	t0 := time.Unix(0, 0)
	if r := m.add(t0, 0); r != 0 {
		t.Errorf("first sample: rate %v, want 0 (unknown)", r)
	}
	if r := m.add(t0.Add(time.Second), 100); r != 0 {
		t.Errorf("after 1s: rate %v, want 0 (unknown)", r)
	}
	// 100 B/s for 20 s, then 1000 B/s for 10 s: the window sees only the latter.
	n := int64(100)
	for s := 2; s <= 20; s++ {
		n += 100
		m.add(t0.Add(time.Duration(s)*time.Second), n)
	}
	var r float64
	for s := 21; s <= 30; s++ {
		n += 1000
		r = m.add(t0.Add(time.Duration(s)*time.Second), n)
	}
	if r < 990 || r > 1010 {
		t.Errorf("rate after the link sped up: %v B/s, want 1000", r)
	}
	if got := etaText(0, 5); got != "ETA -" {
		t.Errorf("etaText without a rate = %q", got)
	}
}

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"clip.mp4", 20, "clip.mp4"},
		{"abcdefghij", 5, "ab…ij"},
		{"abcdefghij", 8, "abc…ghij"},
		{"abcdefghij", 2, "ab"},
	} {
		if got := shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
