package cli

import (
	"fmt"
	"io"
)

// What uploads says on stderr has three forms, each written by one helper
// (stdout carries data only):
//
//   - a note, "uploads: …": what the command is doing, when it matters to
//     the person watching (notef);
//   - a warning, "uploads: warning: …": something went wrong or was left
//     out, and the command goes on (warnf);
//   - an error, "uploads: error: …", with the API's details and "uploads:
//     hint: …" after it: why the command stopped, said once, by reportError
//     (exit.go); withHint attaches the hint to the error.
//
// The progress printers build their lines with the same prefixes
// (noteLine, warnLine) and print them on their own rhythm.

func notef(w io.Writer, format string, args ...any) {
	_, _ = io.WriteString(w, noteLine(format, args...)+"\n")
}

func warnf(w io.Writer, format string, args ...any) {
	_, _ = io.WriteString(w, warnLine(format, args...)+"\n")
}

func noteLine(format string, args ...any) string { return "uploads: " + fmt.Sprintf(format, args...) }

func warnLine(format string, args ...any) string {
	return "uploads: warning: " + fmt.Sprintf(format, args...)
}
