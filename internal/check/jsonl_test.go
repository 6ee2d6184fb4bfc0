package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// verdict is what a check concluded, comparable across runs.
type verdict struct {
	Line      int
	Reason    string
	Lines     int
	Unchecked int
}

// run feeds data to a fresh Checker in pieces of the given sizes (cycled;
// empty means all at once), then closes it.
func run(t testing.TB, purpose string, data []byte, maxLine int, sizes ...int) verdict {
	t.Helper()
	c := New(purpose, "f.jsonl", 0)
	if maxLine > 0 {
		c.maxLine = maxLine
	}
	for i, rest := 0, data; len(rest) > 0; i++ {
		n := len(rest)
		if len(sizes) > 0 {
			n = min(sizes[i%len(sizes)], len(rest))
		}
		if got, err := c.Write(rest[:n]); got != n || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
		}
		rest = rest[n:]
	}
	return verdictOf(t, c, c.Close())
}

func verdictOf(t testing.TB, c *Checker, err error) verdict {
	t.Helper()
	v := verdict{Lines: c.Lines(), Unchecked: c.unchecked}
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %v is a %T, not a *check.Error", err, err)
		}
		v.Line, v.Reason = ce.Line, ce.Reason
		v.Lines, v.Unchecked = 0, 0 // how far it read after a problem does not matter
	}
	return v
}

// jsonErr is encoding/json's message for s, whichever encoding/json is built.
func jsonErr(s string) string {
	var v json.RawMessage
	return json.Unmarshal([]byte(s), &v).Error()
}

func TestJSONL(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line      int    // 0: no problem expected
		reason    string // a part of the reason
		lines     int    // when no problem
		unchecked int
	}{
		{name: "valid", in: "{\"a\":1}\n{\"b\":[1,2]}\n", lines: 2},
		{name: "last line without newline", in: "{\"a\":1}\n{\"b\":2}", lines: 2},
		{name: "one object", in: `{}`, lines: 1},
		{name: "crlf", in: "{\"a\":1}\r\n{\"b\":2}\r\n", lines: 2},
		{name: "crlf last line without newline", in: "{\"a\":1}\r\n{\"b\":2}", lines: 2},
		{name: "white space around objects", in: " \t{\"a\" : 1 } \n{}\t\r\n", lines: 2},
		{name: "unicode and escapes", in: "{\"é\":\"日本\\u00e9\\n\\\"\"}\n", lines: 1},
		{name: "newline inside a string is escaped", in: "{\"a\":\"x\\ny\"}\n", lines: 1},

		{name: "trailing comma", in: "{\"a\":1}\n{\"a\":1,}\n", line: 2, reason: jsonErr(`{"a":1,}`)},
		{name: "truncated last line", in: "{\"a\":1}\n{\"b\":", line: 2, reason: jsonErr(`{"b":`)},
		{name: "crlf with a bad line", in: "{}\r\n{\"a\" 1}\r\n{}\r\n", line: 2, reason: jsonErr(`{"a" 1}`)},
		{name: "two objects on a line", in: "{}{}\n", line: 1, reason: jsonErr(`{}{}`)},
		{name: "pretty-printed object", in: "{\n  \"a\": 1\n}\n", line: 1, reason: jsonErr("{")},
		{name: "pretty-printed object, line 2", in: "{\"a\":\n1}\n", line: 1, reason: jsonErr(`{"a":`)},
		{name: "a JSON array file", in: `[{"a":1},{"b":2}]`, line: 1, reason: "a JSON array, not an object"},
		{name: "array line", in: "{}\n[1,2]\n", line: 2, reason: "a JSON array, not an object"},
		{name: "string line", in: "\"x\"\n", line: 1, reason: "a JSON string, not an object"},
		{name: "number line", in: "{}\n{}\n-1.5e3\n", line: 3, reason: "a JSON number, not an object"},
		{name: "boolean line", in: "true\n", line: 1, reason: "a JSON boolean, not an object"},
		{name: "null line", in: "null", line: 1, reason: "a JSON null, not an object"},
		{name: "invalid line not starting with {", in: "{}\n  \"messages\": [\n", line: 2, reason: `not a JSON object: the line starts with "\"messages\": ["`},
		{name: "closing brace line", in: "}\n", line: 1, reason: `the line starts with "}"`},
		{name: "invalid UTF-8 in a string", in: "{}\n{\"a\":\"\xff\"}\n", line: 2, reason: "byte 7 is not valid UTF-8"},
		{name: "Latin-1 text", in: "{\"a\":\"caf\xe9\"}\n", line: 1, reason: "byte 10 is not valid UTF-8"},

		{name: "blank line in the middle", in: "{}\n\n{}\n", line: 2, reason: "the line is blank"},
		{name: "two newlines at the end", in: "{}\n{}\n\n", line: 3, reason: "the line is blank"},
		{name: "white space line", in: "{}\n \t \n{}\n", line: 2, reason: "the line is blank"},
		{name: "crlf blank line", in: "{}\r\n\r\n{}\r\n", line: 2, reason: "the line is blank"},
		{name: "white space at the end", in: "{}\n  ", line: 2, reason: "the line is blank"},
		{name: "only a newline", in: "\n", line: 1, reason: "the line is blank"},
		{name: "empty", in: "", line: 0, reason: "the file is empty"},

		{name: "byte order mark", in: "\xEF\xBB\xBF{\"a\":1}\n", line: 1, reason: "byte order mark"},
		{name: "byte order mark alone", in: "\xEF\xBB\xBF", line: 1, reason: "byte order mark"},
		{name: "UTF-16 little-endian", in: "\xFF\xFE{\x00}\x00\n\x00", line: 1, reason: "the file is UTF-16 (it starts with bytes FF FE)"},
		{name: "UTF-16 big-endian", in: "\xFE\xFF\x00{\x00}", line: 1, reason: "the file is UTF-16 (it starts with bytes FE FF)"},
		{name: "byte order mark on line 2", in: "{}\n\xEF\xBB\xBF{}\n", line: 2, reason: "not a JSON object: the line starts with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := run(t, "fine-tune", []byte(tt.in), 0)
			if tt.reason == "" && tt.line == 0 {
				if want != (verdict{Lines: tt.lines, Unchecked: tt.unchecked}) {
					t.Fatalf("got %+v, want no problem and %d lines", want, tt.lines)
				}
			} else if want.Line != tt.line || !strings.Contains(want.Reason, tt.reason) {
				t.Fatalf("got line %d %q, want line %d with %q", want.Line, want.Reason, tt.line, tt.reason)
			}
			// Every chunking gives the same verdict: lines cross chunks
			// at every offset.
			for _, sizes := range [][]int{{1}, {2}, {3}, {5}, {7}, {1, 4, 2}, {4096}} {
				if got := run(t, "fine-tune", []byte(tt.in), 0, sizes...); got != want {
					t.Errorf("in pieces of %v: %+v, want %+v", sizes, got, want)
				}
			}
			for cut := 0; cut <= len(tt.in); cut++ {
				if got := run(t, "fine-tune", []byte(tt.in), 0, cut, len(tt.in)); cut > 0 && got != want {
					t.Errorf("cut at %d: %+v, want %+v", cut, got, want)
				}
			}
		})
	}
}

// TestJSONLMessage checks the whole message and the hint a user sees.
func TestJSONLMessage(t *testing.T) {
	var in bytes.Buffer
	for i := 1; i < 1207; i++ {
		fmt.Fprintf(&in, "{\"messages\":[{\"role\":\"user\",\"content\":\"question %d\"}]}\n", i)
	}
	in.WriteString("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},]}\n{}\n")
	c := New("fine-tune", "train.jsonl", int64(in.Len()))
	if _, err := io.Copy(c, &in); err != nil {
		t.Fatal(err)
	}
	// The size was given: reaching it ended the file, no Close needed.
	err := c.Err()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Err() = %v, want a *check.Error", err)
	}
	want := "train.jsonl: line 1207: " + jsonErr(`[1,]`) + " (purpose fine-tune expects a JSONL file: one JSON object per line)"
	if err.Error() != want {
		t.Errorf("message\n got %s\nwant %s", err, want)
	}
	if want := "fix line 1207, or pass --no-check to send it anyway"; ce.Hint() != want {
		t.Errorf("hint %q, want %q", ce.Hint(), want)
	}
	if ce.Purpose != "fine-tune" || ce.File != "train.jsonl" || ce.Line != 1207 {
		t.Errorf("fields %+v", ce)
	}
	if c.Close() != err {
		t.Error("Close after the end gives another verdict")
	}
}

func TestBatchRequestLimit(t *testing.T) {
	line := []byte("{\"custom_id\":\"r\",\"method\":\"POST\",\"url\":\"/v1/responses\",\"body\":{}}\n")
	full := bytes.Repeat(line, MaxBatchRequests)
	if v := run(t, "batch", full, 0, 65536); v != (verdict{Lines: MaxBatchRequests}) {
		t.Fatalf("%d requests: %+v, want no problem", MaxBatchRequests, v)
	}
	over := append(full, line...)
	v := run(t, "batch", over, 0, 65536)
	if v.Line != MaxBatchRequests+1 || v.Reason != "more than 50,000 requests (one per line), the most the purpose allows" {
		t.Fatalf("%d requests: %+v", MaxBatchRequests+1, v)
	}
	// Fine-tuning files have no documented limit on lines.
	if v := run(t, "fine-tune", over, 0, 65536); v.Reason != "" {
		t.Fatalf("fine-tune: %+v", v)
	}
}

func TestLongLines(t *testing.T) {
	const maxLine = 8
	tests := []struct {
		name   string
		in     string
		want   verdict
		reason string
	}{
		{name: "at the bound", in: "{\"a\":12}\n{}\n", want: verdict{Lines: 2}},
		{name: "over the bound, skipped", in: "{\"a\":123}\n{}\n", want: verdict{Lines: 2, Unchecked: 1}},
		{name: "invalid but long: only the start is checked", in: "{\"a\":123,,,,}\n{}\n", want: verdict{Lines: 2, Unchecked: 1}},
		{name: "long last line", in: "{}\n{\"a\":\"0123456789\"}", want: verdict{Lines: 2, Unchecked: 1}},
		{name: "long line not an object", in: "{}\n[1,2,3,4,5,6]\n", want: verdict{Line: 2}, reason: `starts with "[1,2,3,4"`},
		{name: "long line after white space", in: "   [1,2,3,4]\n", want: verdict{Line: 1}, reason: `starts with "[1,2,"`},
		{name: "long white space", in: "          \n{}\n", want: verdict{Lines: 2, Unchecked: 1}},
		{name: "long line with a byte order mark", in: "\xEF\xBB\xBF{\"a\":1234}\n", want: verdict{Line: 1}, reason: "byte order mark"},
		{name: "problem after a long line", in: "{\"a\":\"0123456789\"}\n{,}\n", want: verdict{Line: 2}, reason: jsonErr("{,}")},
		{name: "crlf counts in the length", in: "{\"a\":12}\r\n", want: verdict{Lines: 1, Unchecked: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, sizes := range [][]int{nil, {1}, {2}, {3}, {7}, {9}, {16}} {
				got := run(t, "fine-tune", []byte(tt.in), maxLine, sizes...)
				if got.Reason != "" && strings.Contains(got.Reason, tt.reason) && tt.reason != "" {
					got.Reason = ""
				}
				if got != tt.want {
					t.Errorf("in pieces of %v: got %+v, want %+v (reason containing %q)", sizes, got, tt.want, tt.reason)
				}
			}
		})
	}
}

// TestLongLineMemory checks that a line longer than MaxLine is not held.
func TestLongLineMemory(t *testing.T) {
	c := New("batch", "big.jsonl", 0)
	c.maxLine = 1 << 10
	chunk := bytes.Repeat([]byte("a"), 4096)
	c.Write([]byte(`{"a":"`))
	for range 100 {
		c.Write(chunk)
		if cap(c.buf) > c.maxLine {
			t.Fatalf("holds %d bytes (cap %d) of a long line", len(c.buf), cap(c.buf))
		}
	}
	c.Write([]byte("\"}\n{}\n"))
	if err := c.Close(); err != nil || c.unchecked != 1 || c.Lines() != 2 {
		t.Fatalf("Close = %v, %d unchecked of %d lines", err, c.unchecked, c.Lines())
	}
}

// TestStopsAtFirstProblem checks that the bytes after a problem are not
// looked at, and that Err sees the problem before the end.
func TestStopsAtFirstProblem(t *testing.T) {
	c := New("evals", "e.jsonl", 0)
	c.Write([]byte("{}\n[]\n{}\n"))
	first := c.Err()
	if first == nil {
		t.Fatal("no problem reported before Close")
	}
	c.Write([]byte("\n\n\xEF{,,}\n"))
	if c.Close() != first {
		t.Fatalf("verdict changed after the first problem: %v", c.Err())
	}
}

// TestErrFromAnotherGoroutine is for -race: the engine may poll Err while
// the hash goroutine writes.
func TestErrFromAnotherGoroutine(t *testing.T) {
	c := New("fine-tune", "f.jsonl", 0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = c.Err()
			}
		}
	}()
	for range 1000 {
		c.Write([]byte("{\"a\":1}\n"))
	}
	c.Write([]byte("{\n"))
	close(stop)
	wg.Wait()
	if c.Close() == nil {
		t.Fatal("no problem found")
	}
}

func TestNilChecker(t *testing.T) {
	for _, p := range []string{"assistants", "user_data", "vision", "video", "unknown"} {
		if Streamed(p) {
			t.Errorf("Streamed(%q)", p)
		}
		c := New(p, "x", 10)
		if c != nil {
			t.Fatalf("New(%q) = %v, want nil", p, c)
		}
		// A nil *Checker can stand in an io.MultiWriter all the same.
		w := io.MultiWriter(io.Discard, c)
		if n, err := w.Write([]byte("not json\n")); n != 9 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if c.Close() != nil || c.Err() != nil || c.Lines() != 0 {
			t.Fatal("a nil Checker reports something")
		}
	}
	for _, p := range []string{"batch", "fine-tune", "evals"} {
		if !Streamed(p) || New(p, "x", 1) == nil {
			t.Errorf("%s has no content check", p)
		}
	}
}

// TestSizeEndsTheFile checks that a Checker given the size reports a last
// line without a newline without Close, and ignores bytes past the size.
func TestSizeEndsTheFile(t *testing.T) {
	in := []byte("{}\n{\"a\":")
	c := New("fine-tune", "f.jsonl", int64(len(in)))
	c.Write(in[:5])
	if c.Err() != nil {
		t.Fatal("problem before the end")
	}
	c.Write(in[5:])
	if err := c.Err(); err == nil || err.(*Error).Line != 2 {
		t.Fatalf("Err() = %v, want line 2", err)
	}
}

// TestObjectLine checks the fast path against encoding/json on the cases
// fuzzing reaches only by luck: nesting at encoding/json's limit, and every
// first byte of a UTF-8 sequence.
func TestObjectLine(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}")
	}
	ins := [][]byte{nest(64), nest(65), nest(maxDepth), nest(maxDepth + 1),
		[]byte(`{"a":` + strings.Repeat(`{"b":`, maxDepth-1) + "1" + strings.Repeat("}", maxDepth)),
		[]byte(`{"a":` + strings.Repeat(`{"b":`, maxDepth) + "1" + strings.Repeat("}", maxDepth+1)),
	}
	for c := 0x80; c <= 0xFF; c++ {
		for _, tail := range []string{"", "\x80", "\x8f\xbf", "\x90\x80\x80", "\xa0\x80", "\xbf\xbf\xbf", "a", "\xc0"} {
			ins = append(ins, []byte(`{"k":"x`+string([]byte{byte(c)})+tail+`y"}`))
		}
	}
	for c := 0; c < 0x20; c++ {
		ins = append(ins, []byte{'{', '"', byte(c), '"', ':', '1', '}'}, []byte{'{', '}', byte(c)})
	}
	for _, in := range ins {
		if fast, slow := objectLine(in), slowObjectLine(in); fast != slow {
			t.Errorf("objectLine(%.80q) = %v, encoding/json says %v", in, fast, slow)
		}
	}
	if !objectLine(nest(maxDepth)) || objectLine(nest(maxDepth+1)) {
		t.Error("nesting limit differs from encoding/json's")
	}
}
