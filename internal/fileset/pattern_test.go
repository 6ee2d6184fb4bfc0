package fileset

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, rel string
		dir, want    bool
	}{
		{"*.txt", "a.txt", false, true},
		{"*.txt", "x/y/a.txt", false, true},
		{"*.txt", "x.txt/a", false, false},
		{"x/*.txt", "x/a.txt", false, true},
		{"x/*.txt", "y/x/a.txt", false, false},
		{"**/x/*.txt", "y/x/a.txt", false, true},
		{"/a.txt", "a.txt", false, true},
		{"/a.txt", "d/a.txt", false, false},
		{"cache/", "cache", true, true},
		{"cache/", "cache", false, false},
		{"cache/", "x/cache", true, true},
		{"x/cache/", "x/cache", true, true},
		{"**", "a/b/c", false, true},
		{"\\*", "*", false, true},
		{"\\*", "a", false, false},
	} {
		ps, err := compile("exclude", []string{c.pattern}, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := ps[0].match(c.rel, path.Base(c.rel), c.dir); got != c.want {
			t.Errorf("%q on %q (dir %v) = %v, want %v", c.pattern, c.rel, c.dir, got, c.want)
		}
	}
}

// FuzzPattern checks that no pattern or path makes compiling or matching
// panic, that a rejected pattern is a *PatternError, and that a pattern
// without a slash matches a base name at any depth.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"*.txt", "a/b.txt"}, {"**/x/*", "x/y"}, {"[a-", "a"}, {"{a,b", "a"}, {"a\\", "a"}, {"/", ""},
		{"cache/", "cache"}, {"{a,{b,c}}/**", "c/d"}, {"[^]]", "x"}, {"**/**/**", "a/b"}, {"é*", "é/é"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, rel string) {
		for _, dirOnly := range []bool{false, true} {
			ps, err := compile("exclude", []string{pat}, dirOnly)
			if err != nil {
				var pe *PatternError
				if !errors.As(err, &pe) || pe.Pattern != pat {
					t.Fatalf("compile(%q): %v is not a *PatternError naming it", pat, err)
				}
				continue
			}
			p := ps[0]
			base := path.Base(rel)
			p.match(rel, base, false)
			top := p.match(base, base, true)
			if !p.anchored && !strings.Contains(base, "/") {
				if deeper := p.match("d/"+base, base, true); deeper != top {
					t.Fatalf("%q: base %q matches %v at the top, %v deeper", pat, base, top, deeper)
				}
			}
		}
	})
}
