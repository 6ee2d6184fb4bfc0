package server_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// One structured line per request, with what an operator needs, and never
// the API key.
func TestRequestLog(t *testing.T) {
	var buf lockedBuffer // crash_test.go
	s := servertest.Start(t, server.Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	const secret = "sk-very-secret-key"
	id := createUpload(t, s, secret, 5)
	r := addPart(t, s, secret, id, []byte("hello"))
	wantOK(t, r)
	s.Do(t, "GET", "/files/file-nope", secret, nil, "")
	log := buf.String()
	if strings.Contains(log, secret) {
		t.Fatalf("the API key appears in the log:\n%s", log)
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), log)
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["method"] != "POST" || last["path"] != "/v1/uploads/"+id+"/parts" || last["status"] != float64(200) ||
		last["in"].(float64) < 5 || last["id"] != r.Header.Get("X-Request-Id") {
		t.Fatalf("log line = %v (X-Request-Id %q)", last, r.Header.Get("X-Request-Id"))
	}
	if !strings.Contains(lines[2], `"status":404`) {
		t.Fatalf("404 not logged: %s", lines[2])
	}
}
