//go:build linux

package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// peakRSS runs the uploads command (this test binary, installed in $PATH by
// testscript.Main) in a child process and returns its stdout and its peak
// resident set size in bytes.
func peakRSS(t *testing.T, env []string, args ...string) (string, int64) {
	t.Helper()
	bin, err := exec.LookPath("uploads")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("uploads %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this platform")
	}
	return string(out), ru.Maxrss * 1024 // Linux reports KiB
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
	if !raceEnabled && peak > 40*mib {
		t.Errorf("parts add of a 64 MiB part peaked at %.1f MiB of RSS, want < 40 MiB: is the part buffered?", float64(peak)/mib)
	}
	if peak-base > 16*mib {
		t.Errorf("parts add of a 64 MiB part used %.1f MiB more than files list, want < 16 MiB", float64(peak-base)/mib)
	}
}
