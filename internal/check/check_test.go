package check

import (
	"errors"
	"strings"
	"testing"
)

func TestBefore(t *testing.T) {
	tests := []struct {
		purpose, name string
		size          int64
		mime          string
		reason        string // a part of the reason; "" means no problem
		hint          string // a part of the hint
	}{
		{"batch", "requests.jsonl", 1, "application/jsonl", "", ""},
		{"batch", "REQUESTS.JSONL", MaxBatchBytes, "", "", ""},
		{"batch", "requests.jsonl", MaxBatchBytes + 1, "", "209715201 bytes, more than the 200 MB", "split it into files of at most 200 MB"},
		{"batch", "requests.json", 10, "application/json", `the name ends in ".json"; the purpose takes only .jsonl files`, "rename the file"},
		{"batch", "requests", 10, "", "the name has no extension; the purpose takes only .jsonl files", ""},
		{"batch", "requests.jsonl", 0, "", "the file is empty", "fix the file"},
		{"fine-tune", "train.jsonl", 8 << 30, "", "", ""},
		{"fine-tune", "train.csv", 10, "text/csv", `ends in ".csv"; the purpose takes only .jsonl files`, ""},
		{"evals", "data.ndjson", 10, "", "", ""}, // no documented extension
		{"evals", "data.jsonl", 0, "", "the file is empty", ""},

		{"vision", "cat.png", 10, "image/png", "", ""},
		{"vision", "cat.JPG", 10, "image/jpeg", "", ""},
		{"vision", "cat.jpeg", 10, "IMAGE/JPEG; foo=bar", "", ""},
		{"vision", "cat.webp", 10, "", "", ""},
		{"vision", "cat.gif", 10, "image/gif", "", ""},
		{"vision", "cat", 10, "image/png", "", ""}, // no extension: the MIME type decides
		{"vision", "cat.bmp", 10, "image/bmp", `ends in ".bmp"; the purpose takes only .png, .jpg, .jpeg, .webp, .gif files`, ""},
		{"vision", "cat.png", 10, "image/bmp", `the MIME type is "image/bmp", not one of image/png`, "--mime-type"},
		{"vision", "cat", 10, "image/jpg", `the MIME type is "image/jpg"`, ""},
		{"vision", "cat.png", 10, "not a type", "the MIME type", ""},

		// No documented rule: nothing but the empty file.
		{"assistants", "notes.xyz", 1 << 40, "application/x-whatever", "", ""},
		{"user_data", "anything", 5, "", "", ""},
		{"video", "clip.mp4", 5, "video/mp4", "", ""},
		{"no-such-purpose", "x", 5, "", "", ""},
		{"user_data", "anything", 0, "", "the file is empty", ""},
		{"no-such-purpose", "x", 0, "", "the file is empty", ""},
	}
	for _, tt := range tests {
		err := Before(tt.purpose, tt.name, tt.size, tt.mime)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("Before(%q, %q, %d, %q) = %v, want nil", tt.purpose, tt.name, tt.size, tt.mime, err)
			}
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Before(%q, %q, %d, %q) = %v, want a *check.Error", tt.purpose, tt.name, tt.size, tt.mime, err)
			continue
		}
		if !strings.Contains(ce.Reason, tt.reason) || ce.Line != 0 || ce.Purpose != tt.purpose || ce.File != tt.name {
			t.Errorf("Before(%q, %q, %d, %q) = %+v, want a reason with %q", tt.purpose, tt.name, tt.size, tt.mime, ce, tt.reason)
		}
		if !strings.Contains(ce.Hint(), tt.hint) || !strings.HasSuffix(ce.Hint(), "or pass --no-check to send it anyway") {
			t.Errorf("hint %q, want %q and --no-check", ce.Hint(), tt.hint)
		}
		if !strings.HasPrefix(err.Error(), tt.name+": ") {
			t.Errorf("message %q does not start with the file name", err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Purpose: "batch", File: "b.jsonl", Reason: "the file is empty", Want: "a JSONL file"}
	if got, want := e.Error(), "b.jsonl: the file is empty (purpose batch expects a JSONL file)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := e.Hint(), "fix the file, or pass --no-check to send it anyway"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &Error{Reason: "bad", Line: 3}
	if got, want := e.Error(), "line 3: bad"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 50000: "50,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
