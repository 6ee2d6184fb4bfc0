//go:build unix

package cli_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/cli"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// TestInterruptExits130 interrupts `uploads parts add UPLOAD -` with SIGINT
// while it streams stdin (a pipe that stays open), once the server has
// received the part's first bytes, and expects exit 130 and an error that
// says it was interrupted.
func TestInterruptExits130(t *testing.T) {
	underWay := make(chan struct{})
	var once sync.Once
	seen := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts") {
				r.Body = &firstBytes{ReadCloser: r.Body, seen: func() { once.Do(func() { close(underWay) }) }}
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := servertest.Start(t, server.Config{}, seen)
	c, err := api.New(api.Config{BaseURL: srv.BaseURL, APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateUpload(context.Background(), api.NewUpload{Filename: "x.mp4", Purpose: "video", Bytes: 100, MimeType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("uploads")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd := exec.Command(bin, "parts", "add", up.ID, "-")
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+srv.BaseURL, "OPENAI_API_KEY=sk-test", "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Stdin = pr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if _, err := pw.Write([]byte("some bytes, and then nothing for a while")); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-underWay: // the request is under way, waiting for stdin
	case err := <-exited:
		t.Fatalf("uploads exited (%v) before its part reached the server; stderr:\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
		t.Fatalf("uploads did not stop within a minute of SIGINT; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInterrupted {
		t.Fatalf("exit: %v, want %d; stderr:\n%s", err, cli.ExitInterrupted, stderr.String())
	}
	if !strings.HasPrefix(stderr.String(), "uploads: error: interrupted: ") {
		t.Errorf("stderr %q, want it to start with %q", stderr.String(), "uploads: error: interrupted: ")
	}
}

// firstBytes calls seen once a read has returned bytes of the body.
type firstBytes struct {
	io.ReadCloser
	seen func()
}

func (f *firstBytes) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if n > 0 {
		f.seen()
	}
	return n, err
}
