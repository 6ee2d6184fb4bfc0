package check

import (
	"math/rand/v2"
	"testing"
)

// FuzzJSONL checks that the verdict does not depend on how the bytes are
// cut: random pieces, one byte at a time and all at once agree, with the
// default line bound and with a tiny one (so long lines are exercised).
func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		"{}\n", "{\"a\":1}\r\n{\"b\":[1,2]}", "{\"a\":1,}\n", "\n\n", "\xEF\xBB\xBF{}",
		"[1]\n", "{\"a\":\"\xff\"}\n", "{\"a\":\"0123456789abcdef\"}\n{}\n", " \t\r\n{}", "{\n}\n",
	} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
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
