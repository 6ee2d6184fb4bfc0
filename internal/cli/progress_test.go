package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/uploads-dev/uploads/internal/upload"
)

// The bar is one line at any terminal width, whatever the file's name:
// every redraw (what follows a carriage return) fits in width-1 columns,
// and nothing but the end of the bar starts a new line.
func TestBarFitsTheTerminal(t *testing.T) {
	long := "a-very-long-file-name-for-a-video-clip-from-the-archive-2026-11-29-final-v2.mp4"
	for _, width := range []int{30, 60, 80, 120, 200} {
		for _, name := range []string{"clip.mp4", long} {
			var buf bytes.Buffer
			p := newProgress(progressBar, &buf, 0)
			p.width = width
			total := int64(100 << 20)
			p.report(upload.Event{Type: upload.EventStart, File: name, UploadID: "upload_1", BytesTotal: total, PartsTotal: 8})
			for i := int64(1); i <= 8; i++ {
				p.report(upload.Event{Type: upload.EventProgress, File: name, BytesTotal: total, BytesSent: i * total / 8, PartsTotal: 8, PartsDone: int(i - 1)})
			}
			p.report(upload.Event{Type: upload.EventCompleted, File: name, FileID: "file-1", BytesTotal: total, BytesSent: total, BytesDone: total, PartsTotal: 8, PartsDone: 8})
			out := buf.String()
			if n := strings.Count(out, "\n"); n != 1 || !strings.HasSuffix(out, "\n") {
				t.Errorf("width %d, %s: %d newlines, want one at the end:\n%q", width, name, n, out)
			}
			for _, seg := range strings.Split(strings.TrimSuffix(out, "\n"), "\r") {
				if cols := len([]rune(seg)); cols > width-1 {
					t.Errorf("width %d, %s: a redraw of %d columns: %q", width, name, cols, seg)
				}
			}
			if width >= 60 && !strings.Contains(out, "8/8") {
				t.Errorf("width %d, %s: the parts are not shown:\n%q", width, name, out)
			}
		}
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
