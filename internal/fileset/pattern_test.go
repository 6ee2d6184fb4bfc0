package fileset

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
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
// panic, that a rejected pattern is a *PatternError, and that matching
// agrees with the rules as documented, computed here apart from compile:
// a trailing / matches directories only (and makes no other difference); a
// pattern with a / inside is matched against the whole relative path
// (less a leading /), any other against the base name, at any depth; what
// is matched is doublestar's answer; a pattern without any glob character
// matches exactly the string it names (when both are UTF-8).
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"*.txt", "a/b.txt"}, {"**/x/*", "x/y"}, {"[a-", "a"}, {"{a,b", "a"}, {"a\\", "a"}, {"/", ""},
		{"cache/", "cache"}, {"{a,{b,c}}/**", "c/d"}, {"[^]]", "x"}, {"**/**/**", "a/b"}, {"é*", "é/é"},
		{"a.txt", "d/a.txt"}, {"/a.txt", "d/a.txt"}, {"/d/a.txt", "d/a.txt"}, {"d/", "x/d"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, rel string) {
		base := path.Base(rel)
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
			// The reference: the documented rules, step by step.
			trailing := strings.HasSuffix(pat, "/")
			if trailing && !dirOnly {
				t.Fatalf("compile(%q) accepted a trailing / where directories are not allowed", pat)
			}
			glob := strings.TrimRight(pat, "/")
			anchored := strings.Contains(glob, "/")
			glob = strings.TrimLeft(glob, "/")
			target := base
			if anchored {
				target = rel
			}
			want, merr := doublestar.Match(glob, target)
			if merr != nil {
				t.Fatalf("compile(%q) accepted a pattern doublestar rejects: %v", pat, merr)
			}
			// (Bytes that are not UTF-8 all read as U+FFFD to doublestar.)
			literal := !strings.ContainsAny(glob, "*?[]{}\\") && utf8.ValidString(glob) && utf8.ValidString(target)
			if literal && want != (glob == target) {
				t.Fatalf("literal %q on %q: doublestar says %v", glob, target, want)
			}
			for _, isDir := range []bool{false, true} {
				if got, want := p.match(rel, base, isDir), want && (isDir || !trailing); got != want {
					t.Fatalf("%q on %q (base %q, dir %v) = %v, want %v", pat, rel, base, isDir, got, want)
				}
			}
			if !anchored && !strings.Contains(base, "/") {
				top := p.match(base, base, true)
				if deeper := p.match("d/"+base, base, true); deeper != top {
					t.Fatalf("%q: base %q matches %v at the top, %v deeper", pat, base, top, deeper)
				}
			}
		}
	})
}
