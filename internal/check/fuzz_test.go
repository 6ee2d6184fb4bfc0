package check

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// slowObjectLine is the verdict of encoding/json and unicode/utf8 that
// objectLine, the fast path, must give.
func slowObjectLine(b []byte) bool {
	j := firstNonSpace(b)
	return j >= 0 && b[j] == '{' && json.Valid(b) && utf8.Valid(b)
}

// FuzzJSONL checks that the fast path agrees with encoding/json on every
// input (the whole input and each of its lines), and that the verdict does
// not depend on how the bytes are cut: random pieces, one byte at a time
// and all at once agree, with the default line bound and with a tiny one
// (so long lines are exercised).
func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		"{}\n", "{\"a\":1}\r\n{\"b\":[1,2]}", "{\"a\":1,}\n", "\n\n", "\xEF\xBB\xBF{}",
		"[1]\n", "{\"a\":\"\xff\"}\n", "{\"a\":\"0123456789abcdef\"}\n{}\n", " \t\r\n{}", "{\n}\n",
		`{"a":[1,-0.5e+3,0,true,false,null,{"b":{}},[],""]}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`,
		`{"a":"\u00e9\uD83D\ude00\/\b\f\n\r\t\"\\"}`, `{"a":"\x"}`, `{"a":"\u12G4"}`, `{"a":tru}`, `{"a":nul}`,
		"{\"é日本😀\":\"\u00e9 text longer than eight bytes é\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"\x7f\"}", `{"a":1,}`, `{"a" 1}`, `{,}`, `{}}`, `{]`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"b":[]}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		for _, b := range append(bytes.Split(data, []byte("\n")), data) {
			if fast, slow := objectLine(b), slowObjectLine(b); fast != slow {
				t.Fatalf("objectLine(%q) = %v, encoding/json says %v", b, fast, slow)
			}
		}
		for _, maxLine := range []int{0, 1 + int(seed%13)} {
			whole := run(t, "fine-tune", data, maxLine)
			if got := run(t, "fine-tune", data, maxLine, 1); got != whole {
				t.Fatalf("maxLine %d: byte by byte %+v, whole %+v", maxLine, got, whole)
			}
			rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
			sizes := make([]int, 1+rng.IntN(8))
			for i := range sizes {
				sizes[i] = 1 + rng.IntN(1+len(data))
			}
			if got := run(t, "fine-tune", data, maxLine, sizes...); got != whole {
				t.Fatalf("maxLine %d: in pieces of %v %+v, whole %+v", maxLine, sizes, got, whole)
			}
			if whole.Reason == "" && whole.Lines == 0 && len(data) > 0 {
				t.Fatalf("no lines and no problem in %q", data)
			}
		}
	})
}

// TestScanStringUTF8 puts each kind of UTF-8 sequence, valid or not, at
// every offset in a string, next to escapes and across the eight-byte
// words scanString reads, and checks objectLine against encoding/json.
func TestScanStringUTF8(t *testing.T) {
	seqs := []string{"é", "日", "😀", "\u0800", "\uffff", "\U00010000", "\U0010ffff", "\ud7ff", "\ue000",
		"\xc0\xaf", "\xc1\xbf", "\xc2", "\xe0\x9f\xbf", "\xe0\xa0", "\xed\xa0\x80", "\xed\x9f", "\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\x80", "\xe6\x97", "\xf0\x9f\x98", "\xe6\x97\xa5\x80"}
	for _, s := range seqs {
		for _, tail := range []string{"", "x", `\n`, `\"`, "é", "\x01", `\u00e9`, `\\`, `\q`, "abcdefghijklmnop"} {
			for pad := 0; pad < 17; pad++ {
				line := []byte(`{"k":"` + strings.Repeat("a", pad) + s + tail + `é\tz"}`)
				if fast, slow := objectLine(line), slowObjectLine(line); fast != slow {
					t.Errorf("objectLine(%q) = %v, encoding/json says %v", line, fast, slow)
				}
			}
		}
	}
}
