package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// uploadFile makes a file with content through the upload flow.
func uploadFile(t *testing.T, c *api.Client, content string) string {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateUpload(ctx, api.NewUpload{Filename: "f.txt", Purpose: "user_data", Bytes: int64(len(content)), MimeType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.AddPart(ctx, up.ID, api.Section(strings.NewReader(content), 0, int64(len(content))))
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.Complete(ctx, up.ID, []string{p.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	return done.File.ID
}

// files content refuses to write binary content to a terminal unless
// --force, and writes text there as is. (A script cannot give the command a
// terminal for stdout, so the run function is called directly.)
func TestFilesContentTerminal(t *testing.T) {
	srv := servertest.Start(t, server.Config{})
	c, err := api.New(api.Config{BaseURL: srv.BaseURL, APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	binary := uploadFile(t, c, "PK\x03\x04\x00\x00binary\xff\xfe")
	text := uploadFile(t, c, "plain text, naïve UTF-8\n")
	run := func(id string, force bool) (string, error) {
		var out bytes.Buffer
		err := filesContentRun(&filesContentOptions{
			IO: IOStreams{Out: &out, Err: new(bytes.Buffer), OutTTY: true}, Ctx: context.Background(), FileID: id, Force: force,
			Client: func() (*api.Client, config.Config, error) { return c, config.Config{Format: "json"}, nil },
		})
		return out.String(), err
	}
	out, err := run(binary, false)
	if !errors.Is(err, errBinaryToTerminal) || out != "" || exitCode(context.Background(), err) != ExitUsage {
		t.Errorf("binary to a terminal: err %v (exit %d), wrote %q; want a refusal, exit 2, nothing written", err, exitCode(context.Background(), err), out)
	}
	if out, err := run(binary, true); err != nil || !strings.HasPrefix(out, "PK") {
		t.Errorf("binary to a terminal with --force: err %v, wrote %q", err, out)
	}
	if out, err := run(text, false); err != nil || out != "plain text, naïve UTF-8\n" {
		t.Errorf("text to a terminal: err %v, wrote %q", err, out)
	}
}

func TestLooksBinary(t *testing.T) {
	for in, want := range map[string]bool{
		"":                       false,
		"hello\nworld\n":         false,
		"{\"a\":1}\n":            false,
		"caf\xc3\xa9":            false, // é
		"caf\xc3":                false, // é cut at the end of the sample
		"nul\x00inside":          true,
		"\xff\xfe\xfd\xfc":       true,
		"bad \xc3 in the middle": true,
		"\x89PNG\r\n\x1a\n":      true,
	} {
		if got := looksBinary([]byte(in)); got != want {
			t.Errorf("looksBinary(%q) = %v, want %v", in, got, want)
		}
	}
}

// cancel knows only the cancel's answer (the real API cannot read an
// upload back; this server has no GET /uploads/{id} and counts the calls):
// it says plainly that nothing is left to cancel, with the exit code its
// help documents, after exactly one request.
func TestCancelWithoutUploadLookup(t *testing.T) {
	cases := []struct {
		name            string
		status          int
		code            string
		wantExit        int
		wantErr, wantNo string
	}{
		{"expired", 400, "upload_expired", ExitOK, "uploads: upload_x has expired; nothing to cancel", "error"},
		{"ended", 400, "upload_not_pending", ExitOK, "uploads: upload_x is no longer pending (completed or cancelled); nothing to cancel", "error"},
		{"404", 404, "not_found", ExitAPIRejected, "uploads: hint: check the id; some servers also answer 404", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				if r.Method == http.MethodPost && r.URL.Path == "/v1/uploads/upload_x/cancel" {
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(`{"error":{"message":"nope","type":"invalid_request_error","param":null,"code":"` + tc.code + `"}}`))
					return
				}
				w.WriteHeader(http.StatusNotFound) // no GET /uploads/{id} here
				_, _ = w.Write([]byte(`{"error":{"message":"Unknown URL","type":"invalid_request_error","param":null,"code":"unknown_url"}}`))
			}))
			defer hs.Close()
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"cancel", "upload_x", "--base-url", hs.URL + "/v1", "--api-key", "sk-x", "--retries", "0"},
				IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.wantExit || !strings.Contains(errb.String(), tc.wantErr) || (tc.wantNo != "" && strings.Contains(errb.String(), tc.wantNo)) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errb.String(), tc.wantExit, tc.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d requests, want the cancel alone", n)
			}
		})
	}
}

// A filename is the API's data: in a text table, its control characters
// cannot break the columns or drive the terminal.
func TestTableNeutralizesControlCharacters(t *testing.T) {
	got := table([]string{"ID", "FILENAME"}, 1, func(int) []any { return []any{"file-1", "a\tb\nc\x1b[31m"} })
	want := "ID      FILENAME\nfile-1  a?b?c?[31m"
	if got != want {
		t.Errorf("table = %q, want %q", got, want)
	}
}
