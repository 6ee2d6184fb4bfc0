package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func run(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(ctx, args, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestServeExitCodes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"serve", "--upload-ttl", "-1s"}, ExitUsage},
		{[]string{"serve", "--bogus"}, ExitUsage},
		{[]string{"serve", "--max-upload-size", "-5"}, ExitUsage},
		{[]string{"serve", "--addr", ln.Addr().String(), "--data-dir", t.TempDir()}, ExitFailure}, // port taken
		{[]string{"version"}, ExitOK},
	}
	for _, c := range cases {
		if code, _, stderr := run(t, context.Background(), c.args...); code != c.want {
			t.Errorf("uploads %s: exit %d, want %d (stderr %q)", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
}

// A server stopped by its context (SIGINT/SIGTERM in Main) shuts down
// gracefully and exits 0. It is stopped once it has printed its base URL on
// stdout, and answered a request there.
func TestServeStopsGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var code int
	out := &lineWriter{line: make(chan string, 1)}
	var errb bytes.Buffer
	go func() {
		defer close(done)
		code = Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--quiet"},
			IOStreams{In: strings.NewReader(""), Out: out, Err: &errb})
	}()
	var base string
	select {
	case base = <-out.line:
	case <-done:
		t.Fatalf("serve exited %d before printing its URL; stderr %q", code, errb.String())
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("stdout %q, want the base URL", base)
	}
	req, _ := http.NewRequest("GET", base+"/files", nil)
	req.Header.Set("Authorization", "Bearer sk-test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s/files: %v", base, err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/files: %s", base, res.Status)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop within a minute of its context ending")
	}
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// lineWriter sends its first line, without the newline, on line.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	line chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if s, _, ok := strings.Cut(w.buf.String(), "\n"); ok && !w.sent {
		w.sent = true
		w.line <- s
	}
	return len(p), nil
}
