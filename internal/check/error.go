package check

import (
	"fmt"
	"strings"
)

// Error is a file the service would refuse: what was wrong (Reason), where
// (File, and Line when the problem is on one line), and what the purpose
// expects (Want). Hint says what to do about it.
type Error struct {
	Purpose string
	File    string
	Line    int    // 1-based; 0 when the problem is not on one line
	Reason  string // what is wrong, e.g. "invalid character '}' looking for beginning of object key string"
	Want    string // what the purpose expects, e.g. "a JSONL file: one JSON object per line"

	fix string // the specific remedy, for Hint; "" means "fix the file"
}

// Error reads, for example:
//
//	train.jsonl: line 1207: invalid character '}' looking for beginning of object key string (purpose fine-tune expects a JSONL file: one JSON object per line)
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Reason)
	if e.Want != "" {
		fmt.Fprintf(&b, " (purpose %s expects %s)", e.Purpose, e.Want)
	}
	return b.String()
}

// Hint says what to do: the remedy for this problem, and that --no-check
// sends the file anyway (the service then decides).
func (e *Error) Hint() string {
	fix := e.fix
	if fix == "" {
		fix = "fix the file"
		if e.Line > 0 {
			fix = fmt.Sprintf("fix line %d", e.Line)
		}
	}
	return fix + ", or pass --no-check to send it anyway"
}
