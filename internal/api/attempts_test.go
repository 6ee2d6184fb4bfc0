package api

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// A request that runs out of time against a server that is not there says
// so: the error names the base URL and the refused connection, not only
// "context deadline exceeded".
func TestTimeoutNamesTheLastAttempt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/v1"
	ln.Close() // nothing listens there now: connections are refused
	c, err := New(Config{BaseURL: base, APIKey: "sk-x", MaxRetries: 4, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.GetFile(ctx, "file-1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v: want the deadline, reached while retrying refused connections", err)
	}
	err = c.ExplainTimeout(err)
	var te *TimeoutError
	if !errors.As(err, &te) || te.LastAttempt == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), base) {
		t.Fatalf("error %v: want a TimeoutError naming %s and the refused connection", err, base)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the explained error no longer is a deadline: %v", err)
	}
}
