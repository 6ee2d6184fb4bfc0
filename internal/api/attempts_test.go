package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A request that runs out of time against a server that answered once and
// is gone now says so: the error names the base URL and the refused
// connection, not only "context deadline exceeded".
func TestTimeoutNamesTheLastAttempt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"file-1","object":"file"}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String() + "/v1"
	c, err := New(Config{BaseURL: base, APIKey: "sk-x", MaxRetries: 4, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetFile(context.Background(), "file-1"); err != nil {
		t.Fatal(err)
	}
	_ = srv.Close() // nothing listens there now: connections are refused
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

// A server that has never answered and refuses the connection is not
// there: the call fails at once, after one attempt, rather than retrying
// for seconds without a word.
func TestRefusedBeforeAnyAnswerIsNotRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	attempts := 0
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attempts++
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := New(Config{BaseURL: base, APIKey: "sk-x", MaxRetries: 4, Timeout: time.Minute, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFile(context.Background(), "file-1")
	if !errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want the refused connection itself", err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts, want 1", attempts)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
