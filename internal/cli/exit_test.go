package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
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
// gracefully and exits 0, having printed its base URL on stdout.
func TestServeStopsGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var code int
	var stdout string
	go func() {
		defer close(done)
		code, stdout, _ = run(t, ctx, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--quiet")
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10s of its context ending")
	}
	if code != ExitOK || !strings.HasPrefix(stdout, "http://127.0.0.1:") || !strings.HasSuffix(strings.TrimSpace(stdout), "/v1") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
}
