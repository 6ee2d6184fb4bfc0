package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"unicode/utf8"
)

// MaxLine is the longest line, in bytes, that a Checker parses; it bounds
// the memory one Checker holds. A longer line is not held in memory: the
// Checker checks only that it starts as a JSON object does, counts it
// among its unchecked lines, and skips to its end, so a long line is never
// refused for its length alone. OpenAI documents no line limit (see docs/checks.md).
const MaxLine = 64 << 20

// bom is the UTF-8 byte order mark.
var bom = []byte{0xEF, 0xBB, 0xBF}

// A Checker checks a JSON Lines file as its bytes go by: every line must be
// one JSON object. Feed it the whole file, in order, from its first byte,
// in chunks of any size; lines may cross chunks.
//
// Write never fails (so that, in an io.MultiWriter beside a hash, it never
// stops the hash): it records the first problem, which Err reports, and
// ignores the rest of the file. Close ends the file (a last line without a
// newline is checked then) and returns the verdict. When the Checker was
// given the file's size, reaching it ends the file as Close does.
//
// Write and Close are for one goroutine; Err may be called from any.
type Checker struct {
	purpose, name string
	size          int64
	rule          rule
	maxLine       int

	written   int64
	line      int    // lines begun so far; the current line's number
	buf       []byte // the start of a line that crosses chunks (at most maxLine bytes)
	long      bool   // inside a line longer than maxLine, skipping to its newline
	unchecked int    // lines longer than maxLine
	done      bool   // finished, or failed: ignore further bytes

	err atomic.Pointer[Error]
}

// New returns a Checker for a file of the purpose, or nil when the purpose
// has no checks on content (see Streamed). A nil *Checker is ready to use:
// it takes every byte and reports no problem. size is the file's size in
// bytes, or 0 when it is not known (then only Close ends the file).
func New(purpose, name string, size int64) *Checker {
	r := rules[purpose]
	if !r.jsonl {
		return nil
	}
	return &Checker{purpose: purpose, name: name, size: size, rule: r, maxLine: MaxLine}
}

// Write takes the next bytes of the file. It always returns len(p), nil.
func (c *Checker) Write(p []byte) (int, error) {
	if c == nil || c.done {
		return len(p), nil
	}
	c.written += int64(len(p))
	c.feed(p)
	if c.size > 0 && c.written >= c.size {
		c.finish()
	}
	return len(p), nil
}

// Close ends the file and returns the first problem found, as an *Error,
// or nil.
func (c *Checker) Close() error {
	if c == nil {
		return nil
	}
	c.finish()
	return c.Err()
}

// Err returns the first problem found so far, as an *Error, or nil. It
// can be called at any time, from any goroutine, to stop an upload early.
func (c *Checker) Err() error {
	if c == nil {
		return nil
	}
	if e := c.err.Load(); e != nil {
		return e
	}
	return nil
}

// Lines returns the number of lines seen. Call it after Close.
func (c *Checker) Lines() int {
	if c == nil {
		return 0
	}
	return c.line
}

// feed splits p into lines, joining a line's pieces across calls in buf.
// A line that fits in p is checked where it lies, without a copy.
func (c *Checker) feed(p []byte) {
	for len(p) > 0 && !c.done {
		i := bytes.IndexByte(p, '\n')
		if c.long { // the rest of a line too long to check
			if i < 0 {
				return
			}
			c.long = false
			p = p[i+1:]
			continue
		}
		if i < 0 { // the line goes on in the next chunk
			if len(c.buf)+len(p) > c.maxLine {
				c.add(p[:c.maxLine-len(c.buf)])
				c.longLine(c.buf)
				c.long = true
				c.buf = c.buf[:0]
				return
			}
			c.add(p)
			return
		}
		switch {
		case len(c.buf) == 0:
			c.endLine(p[:i])
		case len(c.buf)+i > c.maxLine:
			c.add(p[:c.maxLine-len(c.buf)])
			c.longLine(c.buf)
			c.buf = c.buf[:0]
		default:
			c.add(p[:i])
			c.endLine(c.buf)
			c.buf = c.buf[:0]
		}
		p = p[i+1:]
	}
}

// add appends b to buf, which never grows past maxLine bytes (the caller
// never adds more). buf keeps its capacity from line to line, so a file of
// long lines costs no allocation per line: a Checker holds at most its
// longest line, up to maxLine, until the file ends.
func (c *Checker) add(b []byte) {
	if n := len(c.buf) + len(b); n > cap(c.buf) {
		grown := make([]byte, len(c.buf), min(max(n, 2*cap(c.buf), 4096), c.maxLine))
		copy(grown, c.buf)
		c.buf = grown
	}
	c.buf = append(c.buf, b...)
}

// finish ends the file: the last line needs no newline.
func (c *Checker) finish() {
	if c.done {
		return
	}
	if !c.long && len(c.buf) > 0 {
		c.endLine(c.buf)
	}
	if c.err.Load() == nil && c.written == 0 {
		c.fail(0, "the file is empty", "")
	}
	c.done, c.buf = true, nil
}

// begin counts a new line and checks the purpose's limit on their number.
func (c *Checker) begin() bool {
	c.line++
	if c.rule.maxLines > 0 && c.line > c.rule.maxLines {
		c.fail(c.line, fmt.Sprintf("more than %s requests (one per line), the most the purpose allows", thousands(c.rule.maxLines)),
			fmt.Sprintf("split it into files of at most %s lines", thousands(c.rule.maxLines)))
		return false
	}
	return true
}

// endLine checks one whole line (without its newline).
func (c *Checker) endLine(line []byte) {
	if len(line) > c.maxLine {
		c.longLine(line[:c.maxLine])
		return
	}
	if !c.begin() {
		return
	}
	if objectLine(line) { // the fast path: most lines end here
		return
	}
	// The line is refused: find out why, and say it as encoding/json does.
	if c.line == 1 && c.badStart(line) {
		return
	}
	j := firstNonSpace(line)
	if j < 0 {
		c.fail(c.line, "the line is blank", "remove the blank lines")
		return
	}
	if json.Valid(line) {
		switch {
		case line[j] != '{':
			c.fail(c.line, fmt.Sprintf("a JSON %s, not an object", kind(line[j])), "")
		case !utf8.Valid(line):
			// encoding/json takes invalid UTF-8 in strings; JSON Lines
			// and RFC 8259 do not.
			c.fail(c.line, fmt.Sprintf("byte %d is not valid UTF-8, and JSON Lines files are UTF-8", badUTF8(line)+1),
				"save the file as UTF-8")
		}
		return
	}
	if line[j] != '{' {
		c.fail(c.line, "not a JSON object: the line starts with "+snippet(line[j:]), "")
		return
	}
	c.fail(c.line, syntaxError(line), "")
}

// longLine checks the start (maxLine bytes) of a line longer than maxLine:
// only that it starts as an object does.
func (c *Checker) longLine(start []byte) {
	if !c.begin() {
		return
	}
	if c.line == 1 && c.badStart(start) {
		return
	}
	if j := firstNonSpace(start); j >= 0 && start[j] != '{' {
		c.fail(c.line, "not a JSON object: the line starts with "+snippet(start[j:]), "")
		return
	}
	c.unchecked++
}

// badStart reports (and records) a byte order mark at the start of the
// file: a UTF-8 one, which JSON parsers refuse, or a UTF-16 one.
func (c *Checker) badStart(line []byte) bool {
	switch {
	case bytes.HasPrefix(line, bom):
		c.fail(1, "the file starts with a UTF-8 byte order mark (bytes EF BB BF), which is not JSON",
			"save the file as UTF-8 without a byte order mark")
	case bytes.HasPrefix(line, []byte{0xFF, 0xFE}), bytes.HasPrefix(line, []byte{0xFE, 0xFF}):
		c.fail(1, fmt.Sprintf("the file is UTF-16 (it starts with bytes % X), and JSON Lines files are UTF-8", line[:2]),
			"save the file as UTF-8")
	default:
		return false
	}
	return true
}

// fail records the first problem and stops the checking.
func (c *Checker) fail(line int, reason, fix string) {
	c.err.CompareAndSwap(nil, &Error{Purpose: c.purpose, File: c.name, Line: line, Reason: reason, Want: c.rule.want, fix: fix})
	c.done, c.buf = true, nil
}

// firstNonSpace returns the index of the first byte that is not JSON white
// space, or -1.
func firstNonSpace(b []byte) int {
	for i, x := range b {
		if x != ' ' && x != '\t' && x != '\r' && x != '\n' {
			return i
		}
	}
	return -1
}

// thousands writes n with a comma between thousands, as OpenAI does.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// badUTF8 returns the offset of the first byte of b that is not valid UTF-8.
func badUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// syntaxError is encoding/json's description of what is wrong with line,
// e.g. "invalid character '}' looking for beginning of object key string".
// It runs only on the line that failed, so its cost does not matter.
func syntaxError(line []byte) string {
	var v json.RawMessage
	if err := json.Unmarshal(line, &v); err != nil {
		return err.Error()
	}
	return "not valid JSON"
}

// kind names the JSON value a valid line starting with b holds.
func kind(b byte) string {
	switch b {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// snippet quotes the start of b, at most 24 bytes, cut on a character.
func snippet(b []byte) string {
	const n = 24
	if len(b) <= n {
		return fmt.Sprintf("%q", b)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", b[:cut])
}
