package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// testLive is a live view that renders only when told (render), on a
// clock the test moves.
func testLive(w io.Writer, width int, paths []string, total int64) (*liveView, *time.Time) {
	clock := time.Unix(0, 0)
	m := newRunModel(paths, total)
	m.now = func() time.Time { return clock }
	return newLiveView(w, func() int { return width }, m), &clock
}

func (v *liveView) renderNow() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.draw(false)
}

// The bar is one line at any terminal width, whatever the file's name:
// redrawn in place, it never wraps, and the screen ends with the file's
// line at 100%.
func TestBarFitsTheTerminal(t *testing.T) {
	long := "a-very-long-file-name-for-a-video-clip-from-the-archive-2026-11-29-final-v2.mp4"
	for _, width := range []int{30, 60, 80, 120, 200} {
		for _, name := range []string{"clip.mp4", long} {
			var buf bytes.Buffer
			total := int64(100 << 20)
			v, clock := testLive(&buf, width, []string{name}, total)
			v.report(upload.Event{Type: upload.EventStart, File: name, UploadID: "upload_1", BytesTotal: total, PartsTotal: 8})
			for i := int64(1); i <= 8; i++ {
				*clock = clock.Add(time.Second)
				v.report(upload.Event{Type: upload.EventProgress, File: name, BytesTotal: total, BytesSent: i * total / 8, PartsTotal: 8, PartsDone: int(i - 1)})
				v.renderNow()
			}
			v.report(upload.Event{Type: upload.EventCompleted, File: name, FileID: "file-1", BytesTotal: total, BytesSent: total, BytesDone: total, PartsTotal: 8, PartsDone: 8})
			v.close()
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

// Several files: a bar per file in flight, in the run's order whatever
// the order they started in, and a total line under them, redrawn in
// place; a finished file's line moves above the view, as do retries, and
// stdout's lines go above it too.
func TestLiveViewSeveralFiles(t *testing.T) {
	var buf bytes.Buffer
	const width = 100
	v, clock := testLive(&buf, width, []string{"d1/a.mp4", "d2/b.mp4", "d3/c.mp4"}, 300<<20)
	ev := func(e upload.Event) { e.BytesTotal, e.PartsTotal = 100<<20, 4; v.report(e) }
	ev(upload.Event{Type: upload.EventStart, File: "d2/b.mp4", UploadID: "upload_b", Resumed: true, PartsDone: 2, BytesDone: 50 << 20, BytesSent: 50 << 20})
	ev(upload.Event{Type: upload.EventStart, File: "d1/a.mp4", UploadID: "upload_a"})
	*clock = clock.Add(2 * time.Second)
	ev(upload.Event{Type: upload.EventProgress, File: "d1/a.mp4", BytesSent: 30 << 20})
	ev(upload.Event{Type: upload.EventRetry, File: "d2/b.mp4", Part: 3, Error: "503 Service Unavailable", Wait: 2 * time.Second, Attempt: 1, BytesSent: 50 << 20, BytesDone: 50 << 20, PartsDone: 2})
	v.renderNow()

	got := screen(t, buf.String(), width)
	want := []string{
		"uploads: d2/b.mp4: resuming upload upload_b: 2 of 4 parts (50 MiB) already on the server",
		"uploads: warning: d2/b.mp4: part 3: 503 Service Unavailable; sending it again in 2s (retry 1)",
		"d1/a.mp4 0/4", "d2/b.mp4 2/4", "total 0/3",
	}
	checkScreen(t, got, want)
	if !strings.Contains(got[len(got)-1], "(80 MiB/300 MiB, 15 MiB/s") {
		t.Errorf("total line %q: want 80 of 300 MiB at 15 MiB/s (30 MiB sent in 2 s)", got[len(got)-1])
	}

	ev(upload.Event{Type: upload.EventCompleted, File: "d1/a.mp4", FileID: "file-a", BytesSent: 100 << 20, PartsDone: 4})
	if err := v.above(func() error { _, err := fmt.Fprintln(&buf, "file-a\td1/a.mp4"); return err }); err != nil {
		t.Fatal(err)
	}
	v.failed(context.Background(), fileFailure{File: "d2/b.mp4", Err: errors.New("boom"), Several: true, Code: 1})
	v.summary(runSummary{Files: 3, Completed: 1, Failed: 1, NotStarted: 1, Sent: 150 << 20, Took: time.Second})
	v.close()
	got = screen(t, buf.String(), width)
	want = append(want[:2], "d1/a.mp4 4/4", "file-a\td1/a.mp4", "uploads: error: d2/b.mp4: boom", "total 2/3",
		"uploads: 1 of 3 files uploaded (150 MiB sent in 1s, 150 MiB/s, 0 retries), 1 failed, 1 not started")
	checkScreen(t, got, want)
}

// After an interruption the view shows what each file's journal keeps,
// not the bytes that were on their way: a resume sends the rest.
func TestLiveViewAfterAnInterruption(t *testing.T) {
	var buf bytes.Buffer
	const width = 100
	v, _ := testLive(&buf, width, []string{"a.mp4", "b.mp4"}, 200<<20)
	ev := func(e upload.Event) { e.BytesTotal, e.PartsTotal = 100<<20, 8; v.report(e) }
	ev(upload.Event{Type: upload.EventStart, File: "a.mp4", UploadID: "upload_a"})
	ev(upload.Event{Type: upload.EventStart, File: "b.mp4", UploadID: "upload_b"})
	ev(upload.Event{Type: upload.EventProgress, File: "a.mp4", BytesSent: 77 << 20, BytesDone: 25 << 20, PartsDone: 2})
	ev(upload.Event{Type: upload.EventProgress, File: "b.mp4", BytesSent: 60 << 20})
	v.renderNow()
	ctx := context.Background()
	v.failed(ctx, fileFailure{File: "a.mp4", Interrupted: true, Several: true,
		Err: &upload.FailedError{File: "a.mp4", Kept: true, PartsDone: 2, Parts: 8, Err: context.Canceled}})
	v.failed(ctx, fileFailure{File: "b.mp4", Interrupted: true, Several: true,
		Err: &upload.FailedError{File: "b.mp4", Kept: true, PartsDone: 0, Parts: 8, Err: context.Canceled}})
	v.close()
	got := screen(t, buf.String(), width)
	checkScreen(t, got, []string{"a.mp4 2/8  25%", "b.mp4 0/8   0%", "total 0/2  12%"})
	if !strings.Contains(got[0], "interrupted: 2 of 8 parts kept") || !strings.Contains(got[1], "interrupted: 0 of 8 parts kept") {
		t.Errorf("screen:\n%s\nwant each file's kept parts", strings.Join(got, "\n"))
	}
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

// The rates look at the last seconds only, and the time left is blank
// until a rate is known.
func TestMeter(t *testing.T) {
	var m meter
	t0 := time.Unix(0, 0)
	m.add(t0, 0)
	if r := m.rate(t0); r != 0 {
		t.Errorf("first sample: rate %v, want 0 (unknown)", r)
	}
	m.add(t0.Add(time.Second/2), 100)
	if r := m.rate(t0.Add(time.Second / 2)); r != 0 {
		t.Errorf("after 0.5s: rate %v, want 0 (unknown)", r)
	}
	// 100 B/s for 20 s, then 1000 B/s for 10 s: the window sees only the latter.
	n := int64(100)
	for s := 2; s <= 20; s++ {
		n += 100
		m.add(t0.Add(time.Duration(s)*time.Second), n)
	}
	for s := 21; s <= 30; s++ {
		n += 1000
		m.add(t0.Add(time.Duration(s)*time.Second), n)
	}
	if r := m.rate(t0.Add(30 * time.Second)); r < 990 || r > 1010 {
		t.Errorf("rate after the link sped up: %v B/s, want 1000", r)
	}
	// Nothing new for 10 s: the rate falls, it does not stay at its last value.
	if r := m.rate(t0.Add(40 * time.Second)); r > 600 {
		t.Errorf("rate after 10 s without a byte: %v B/s, want it halved", r)
	}
	if got := etaText(eta(0, 5)); got != "- left" {
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
		{"data/deep/dir/clip-1.mp4", 18, "…ep/dir/clip-1.mp4"},
		{"data/deep/dir/clip-1.mp4", 12, "…/clip-1.mp4"},
		{"data/deep/dir/clip-1.mp4", 11, "clip-1.mp4"},
		{"data/deep/dir/clip-1.mp4", 8, "cli….mp4"},
	} {
		if got := shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
