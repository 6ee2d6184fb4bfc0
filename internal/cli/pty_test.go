//go:build linux || darwin

package cli_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/termtest"
)

// On a real terminal (a pseudo-terminal of 60 and of 120 columns), put
// draws its bar on one line redrawn in place: what is left on the screen is
// the file's line at 100% with every part, then the file id. Nothing
// wrapped, nothing was drawn on a new line.
func TestPutBarOnATerminal(t *testing.T) {
	bin := uploadsBinary(t)
	srv := servertest.Start(t, server.Config{Strict: true}, latency(40*time.Millisecond))
	dir := t.TempDir()
	name := "a-rather-long-name-for-a-clip-recorded-on-the-29th-of-november-final.mp4"
	if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("0123456789abcdef"), 24<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{60, 120} {
		cmd := exec.Command(bin, "put", name, "--purpose", "video", "--part-size", "1MiB", "--concurrency", "2", "--base-url", srv.BaseURL)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-test", "XDG_STATE_HOME="+filepath.Join(dir, "state"),
			"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "TERM=xterm")
		tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: uint16(width)})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, err = io.Copy(&out, tty) // until the program exits (EIO on Linux)
		var pe *os.PathError
		if err != nil && (!errors.As(err, &pe) || !errors.Is(pe.Err, syscall.EIO)) {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("width %d: put: %v\n%s", width, err, out.String())
		}
		tty.Close()
		lines, err := termtest.Screen(out.String(), width)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 2 || !strings.Contains(lines[0], "24/24") || !strings.Contains(lines[0], "100%") ||
			!regexp.MustCompile(`^file-[0-9a-f]+$`).MatchString(lines[1]) {
			t.Errorf("width %d: the screen shows\n%s\nwant the file's line at 100%% with 24/24 parts, then the file id", width, strings.Join(lines, "\n"))
		}
		if !strings.Contains(out.String(), "\x1b[J") {
			t.Errorf("width %d: the bar was never redrawn in place", width)
		}
	}
}
