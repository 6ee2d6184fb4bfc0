package fileset

import (
	"fmt"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// PatternError is an include or exclude pattern that cannot be used.
type PatternError struct {
	Kind    string // "include" or "exclude"
	Pattern string
	Problem string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("bad %s pattern %q: %s", e.Kind, e.Pattern, e.Problem)
}

// pattern is one compiled include or exclude pattern.
type pattern struct {
	glob     string // doublestar syntax, '/'-separated, no leading or trailing '/'
	anchored bool   // matched against the whole relative path, not the base name
	dirOnly  bool   // matches directories only (written with a trailing '/')
}

// compile checks and prepares patterns; kind names them in errors.
// Trailing slashes (directories only) are allowed where dirOnly is.
func compile(kind string, raws []string, dirOnly bool) ([]pattern, error) {
	out := make([]pattern, 0, len(raws))
	for _, raw := range raws {
		bad := func(problem string) error { return &PatternError{Kind: kind, Pattern: raw, Problem: problem} }
		p := pattern{glob: raw}
		if raw == "" {
			return nil, bad("it is empty")
		}
		if strings.HasSuffix(p.glob, "/") {
			if !dirOnly {
				return nil, bad(fmt.Sprintf("a trailing / matches directories only, and include patterns match files; to include a directory's files write %q",
					strings.TrimRight(raw, "/")+"/**"))
			}
			p.dirOnly = true
			p.glob = strings.TrimRight(p.glob, "/")
		}
		p.anchored = strings.Contains(p.glob, "/")
		p.glob = strings.TrimLeft(p.glob, "/")
		if p.glob == "" {
			return nil, bad("it names no file")
		}
		if !doublestar.ValidatePattern(p.glob) {
			return nil, bad("malformed glob (an unclosed [ or {, an empty [], or a trailing \\?)")
		}
		out = append(out, p)
	}
	return out, nil
}

// match reports whether p matches the entry at rel (relative to the
// directory argument, with forward slashes) whose base name is base.
func (p pattern) match(rel, base string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	if p.anchored {
		return doublestar.MatchUnvalidated(p.glob, rel)
	}
	return doublestar.MatchUnvalidated(p.glob, base)
}

func matchAny(ps []pattern, rel, base string, isDir bool) bool {
	for _, p := range ps {
		if p.match(rel, base, isDir) {
			return true
		}
	}
	return false
}
