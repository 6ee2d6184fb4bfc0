//go:build linux

package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// peakRSS runs the uploads command in a child process and returns its
// stdout and its peak resident set size in bytes. The command is the binary
// as users get it (uploadsBinary: built without the race detector, whose
// shadow memory would add some 20 MiB to every process, even when the tests
// run with -race), so that the bounds are absolute.
//
// The peak is the child's VmHWM (/proc/PID/status), read until it exits:
// its rusage's maxrss would not do, as Go starts children with vfork, and
// Linux counts the parent's memory (this test process's, 170 MiB under
// -race) in the peak of a child that shared it before exec. VmHWM only
// grows, so the last reading is the peak of all but the child's last
// moments, which send nothing.
func peakRSS(t *testing.T, env []string, args ...string) (string, int64) {
	t.Helper()
	cmd := exec.Command(uploadsBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout bytes.Buffer
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var peak int64
	readings := 0
	for {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("uploads %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			if readings == 0 {
				t.Fatalf("uploads %s: no reading of its VmHWM before it exited", strings.Join(args, " "))
			}
			return stdout.String(), peak
		default:
		}
		if hwm, ok := vmHWM(status); ok {
			peak, readings = max(peak, hwm), readings+1
		}
		time.Sleep(time.Millisecond) // a sampling interval, not a wait for anything
	}
}

// vmHWM reads the VmHWM line of a /proc/PID/status file, in bytes.
func vmHWM(status string) (int64, bool) {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib); err == nil && kib > 0 {
				return kib << 10, true
			}
		}
	}
	return 0, false
}

// TestPartsAddPeakMemory sends one 64 MiB part with `uploads parts add` in a
// child process and checks that the process's peak memory stays far below
// the part's size: the part is streamed from the file, never buffered (the
// SDK's own multipart encoder would hold it whole, twice over).
func TestPartsAddPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 64 MiB")
	}
	const size = 64 << 20
	srv := servertest.Start(t, server.Config{})
	path := filepath.Join(t.TempDir(), "part.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Real bytes (not a sparse file), so that reading them costs what it would.
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := api.New(api.Config{BaseURL: srv.BaseURL, APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateUpload(context.Background(), api.NewUpload{Filename: "part.bin", Purpose: "video", Bytes: size, MimeType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"OPENAI_BASE_URL=" + srv.BaseURL, "OPENAI_API_KEY=sk-test", "XDG_CONFIG_HOME=" + t.TempDir(), "UPLOADS_RETRIES=0"}

	_, base := peakRSS(t, env, "files", "list")
	out, peak := peakRSS(t, env, "parts", "add", up.ID, path)
	if !strings.Contains(out, `"bytes":67108864`) {
		t.Fatalf("parts add printed %q, want a part of 67108864 bytes", out)
	}
	const mib = 1 << 20
	t.Logf("peak RSS: parts add of a 64 MiB part %.1f MiB; files list (baseline) %.1f MiB", float64(peak)/mib, float64(base)/mib)
	if peak > 40*mib {
		t.Errorf("parts add of a 64 MiB part peaked at %.1f MiB of RSS, want < 40 MiB: is the part buffered?", float64(peak)/mib)
	}
	if peak-base > 16*mib {
		t.Errorf("parts add of a 64 MiB part used %.1f MiB more than files list, want < 16 MiB", float64(peak-base)/mib)
	}
}
