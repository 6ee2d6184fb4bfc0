// Package check finds, before a file is sent or while it is read for its
// MD5, the problems for which the OpenAI service would refuse the file only
// after it has all of it: a batch input file over 200 MB, a fine-tuning file
// whose line 1207 is not a JSON object, an image type vision does not take.
//
// It has two stages. Before needs no content: the size, the name and the
// declared MIME type. A Checker takes the file's bytes in order, in chunks
// of any size (it is an io.Writer, so it can sit beside the MD5 hash in an
// io.MultiWriter), and reports the first problem with its line number.
//
// Every rule comes from OpenAI's published documentation; docs/checks.md
// lists them with their sources. Where the documentation says nothing, the
// package checks nothing: the server stays the judge, and a check exists
// only to save sending gigabytes that are sure to be refused.
package check

import (
	"fmt"
	"mime"
	"path/filepath"
	"strings"
)

// MaxBatchBytes is the largest batch input file: OpenAI documents "up to
// 200 MB" without saying which megabyte, so the check takes the larger
// reading, 200 MiB, and refuses only what is over both.
const MaxBatchBytes = 200 << 20

// MaxBatchRequests is the number of requests (lines) a batch input file may
// hold.
const MaxBatchRequests = 50_000

// rule is what one purpose requires of a file.
type rule struct {
	maxBytes int64    // 0: no documented limit
	maxLines int      // 0: no documented limit
	exts     []string // the name must end in one of these (lowercase); nil: any name
	mimes    []string // the declared MIME type must be one of these; nil: any
	jsonl    bool     // the content is JSON Lines, one object per line
	want     string   // what the purpose expects, for messages
}

// jsonlWant is what a JSON Lines purpose expects, in messages.
const jsonlWant = "a JSONL file: one JSON object per line"

// rules holds the purposes that have documented rules. Purposes absent
// here (assistants, user_data, video, any new one) get only the empty-file
// check: OpenAI documents no file rule for them that can be checked here.
var rules = map[string]rule{
	"batch": {
		maxBytes: MaxBatchBytes, maxLines: MaxBatchRequests, exts: []string{".jsonl"}, jsonl: true,
		want: "a JSONL file of at most 200 MB and 50,000 requests, one JSON object per line",
	},
	"fine-tune": {exts: []string{".jsonl"}, jsonl: true, want: jsonlWant},
	"evals":     {jsonl: true, want: jsonlWant},
	"vision": {
		exts:  []string{".png", ".jpg", ".jpeg", ".webp", ".gif"},
		mimes: []string{"image/png", "image/jpeg", "image/webp", "image/gif"},
		want:  "an image: PNG, JPEG, WEBP or GIF",
	},
}

// Before checks what can be known without reading the file: that it is not
// empty, not over the purpose's size limit, and that its name and declared
// MIME type are among those the purpose takes. mimeType may be empty (not
// known yet); a name without an extension is checked only where the purpose
// requires one. The error, if any, is an *Error.
func Before(purpose, name string, size int64, mimeType string) error {
	r, known := rules[purpose]
	e := func(reason, fix string) error {
		return &Error{Purpose: purpose, File: name, Reason: reason, Want: r.want, fix: fix}
	}
	if size == 0 {
		return e("the file is empty", "")
	}
	if !known {
		return nil
	}
	if r.maxBytes > 0 && size > r.maxBytes {
		return e(fmt.Sprintf("the file has %d bytes, more than the %s the purpose allows", size, mb(r.maxBytes)),
			"split it into files of at most "+mb(r.maxBytes))
	}
	if r.exts != nil {
		ext := strings.ToLower(filepath.Ext(name))
		if !contains(r.exts, ext) && (ext != "" || r.jsonl) {
			name := "the name has no extension"
			if ext != "" {
				name = fmt.Sprintf("the name ends in %q", ext)
			}
			return e(fmt.Sprintf("%s; the purpose takes only %s files", name, strings.Join(r.exts, ", ")),
				"rename the file if its content is of that kind")
		}
	}
	if r.mimes != nil && mimeType != "" {
		base, _, err := mime.ParseMediaType(mimeType)
		if err != nil || !contains(r.mimes, strings.ToLower(base)) {
			return e(fmt.Sprintf("the MIME type is %q, not one of %s", mimeType, strings.Join(r.mimes, ", ")),
				"convert the file, or declare its real type with --mime-type")
		}
	}
	return nil
}

// Streamed reports whether the purpose has checks on the content, that is,
// whether New returns a Checker for it.
func Streamed(purpose string) bool {
	return rules[purpose].jsonl
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mb writes a limit the way the documentation states it.
func mb(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
