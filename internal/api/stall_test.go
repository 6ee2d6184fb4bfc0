package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// stallServer reads the first `read` bytes of each request's body (all of
// it when read < 0), says so on readDone, then neither reads nor answers
// until the test ends.
func stallServer(t *testing.T, read int64) (*Client, <-chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	readDone := make(chan struct{}, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if read < 0 {
			_, _ = io.Copy(io.Discard, r.Body)
		} else {
			_, _ = io.CopyN(io.Discard, r.Body, read)
		}
		readDone <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }); hs.Close() })
	c, err := New(Config{BaseURL: hs.URL + "/v1", APIKey: "sk-test", HTTPClient: hs.Client(), StallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c, readDone
}

// stallCase sends a part of size bytes (length, as AddPart is told: -1
// for unknown) to a server that stops as
// stallServer says and, once it has, ticks the watchdog a second ahead
// (within the timeout of a minute: nothing is cut) then an hour ahead
// (the request is cut); it returns AddPart's error.
func stallCase(t *testing.T, size int, length int64, read int64) error {
	clock := installStallClock(t)
	c, readDone := stallServer(t, read)
	result := make(chan error, 1)
	go func() {
		_, err := c.AddPart(context.Background(), "upload_1", Stream(bytes.NewReader(randomBytes(size)), length))
		result <- err
	}()
	<-readDone
	if checked, cut := clock.Tick(time.Second); checked != 1 || cut != 0 {
		t.Fatalf("a second ahead: %d watchdogs checked, %d cut; want 1 checked, none cut", checked, cut)
	}
	if checked, cut := clock.Tick(time.Hour); checked != 1 || cut != 1 {
		t.Fatalf("an hour ahead: %d watchdogs checked, %d cut; want 1 and 1", checked, cut)
	}
	return <-result
}

// A part whose bytes stop moving (the server reads 64 KiB of 64 MiB, more
// than the connection's buffers hold, then stops) is cut once the stall
// timeout has passed since they last moved, not before.
func TestAddPartStalledBodyIsCut(t *testing.T) {
	err := stallCase(t, 64<<20, 64<<20, 64<<10)
	var se *StalledError
	if !errors.As(err, &se) || se.Answer || se.Timeout != time.Minute || se.Sent >= se.Size {
		t.Fatalf("AddPart = %v, want a stall of the body", err)
	}
	if Classify(context.Background(), err) != Transient {
		t.Fatalf("a stall is classified %v, want transient", Classify(context.Background(), err))
	}
}

// A part sent whole whose answer does not come is cut once the stall
// timeout (and the time for the send buffer) has passed, not before. (Its
// length is not given, so that the client has read its body to the end
// when the server has it all: the end of the chunked encoding comes after.)
func TestAddPartUnansweredIsCut(t *testing.T) {
	err := stallCase(t, 256<<10, -1, -1)
	var se *StalledError
	if !errors.As(err, &se) || !se.Answer || se.Sent < 256<<10 {
		t.Fatalf("AddPart = %v, want a stall waiting for the answer", err)
	}
}
