package fileset

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tree makes files under dir: a name ending in '/' is a directory, a
// name with content "->target" a symbolic link, anything else a file with
// that content.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// chdir moves into dir for the test, so that paths read as a user types them.
func chdir(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	tree(t, dir, files)
	t.Chdir(dir)
}

func paths(s Set) []string {
	var out []string
	for _, f := range s.Files {
		out = append(out, f.Path)
	}
	return out
}

func rels(s Set) []string {
	var out []string
	for _, f := range s.Files {
		out = append(out, f.Rel)
	}
	return out
}

func skipped(s Set) map[string]string {
	out := map[string]string{}
	for _, k := range s.Skipped {
		out[filepath.ToSlash(k.Path)] = k.Reason
	}
	return out
}

func expand(t *testing.T, args []string, opts Options) Set {
	t.Helper()
	s, err := Expand(args, opts)
	if err != nil {
		t.Fatalf("Expand(%q, %+v): %v", args, opts, err)
	}
	return s
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range got {
		got[i] = filepath.ToSlash(got[i])
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

var sample = map[string]string{
	"data/b.txt":           "b",
	"data/a.txt":           "a",
	"data/a/z.json":        "z",
	"data/a/b/deep.txt":    "deep",
	"data/.hidden":         "h",
	"data/node_modules/x":  "x",
	"data/docs/readme.md":  "r",
	"data/docs/x/notes.md": "n",
	"data/cache/c.tmp":     "c",
	"data/c.tmp":           "c",
	"data/empty":           "",
	"top.txt":              "top",
}

func TestFileArgumentsAsIs(t *testing.T) {
	chdir(t, sample)
	s := expand(t, []string{"top.txt", "data/a.txt"}, Options{Exclude: []string{"*.txt"}})
	same(t, "paths", paths(s), []string{"top.txt", "data/a.txt"})
	same(t, "rels", rels(s), []string{"top.txt", "a.txt"})
	if s.Files[0].Size != 3 || !s.Files[0].Mode.IsRegular() {
		t.Fatalf("file = %+v", s.Files[0])
	}
}

func TestDirectoryNeedsRecursive(t *testing.T) {
	chdir(t, sample)
	_, err := Expand([]string{"top.txt", "data"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "data") || !strings.Contains(err.Error(), "--recursive") {
		t.Fatalf("err = %v; want one naming data and --recursive", err)
	}
}

func TestMissingArgument(t *testing.T) {
	chdir(t, sample)
	_, err := Expand([]string{"top.txt", "nope.txt"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "nope.txt") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v; want one naming nope.txt, wrapping fs.ErrNotExist", err)
	}
	if _, err := Expand([]string{""}, Options{}); err == nil {
		t.Fatal("an empty argument was accepted")
	}
	if err := os.Symlink("gone", "dangling"); err != nil {
		t.Fatal(err)
	}
	if _, err := Expand([]string{"dangling"}, Options{}); err == nil || !strings.Contains(err.Error(), "broken symbolic link") {
		t.Fatalf("dangling link argument: %v", err)
	}
}

func TestRecursiveOrderIsLexicalAndDeterministic(t *testing.T) {
	chdir(t, sample)
	want := []string{
		"data/.hidden", "data/a/b/deep.txt", "data/a/z.json", "data/a.txt", "data/b.txt", "data/c.tmp",
		"data/cache/c.tmp", "data/docs/readme.md", "data/docs/x/notes.md", "data/node_modules/x",
	}
	for range 3 {
		s := expand(t, []string{"./data/"}, Options{Recursive: true})
		same(t, "paths", paths(s), want)
		same(t, "rels", rels(s)[:2], []string{".hidden", "a/b/deep.txt"})
		if r := skipped(s)["data/empty"]; !strings.Contains(r, "empty") {
			t.Fatalf("skipped = %v; want data/empty as empty", s.Skipped)
		}
	}
	// An absolute directory argument gives absolute paths.
	abs, _ := filepath.Abs("data")
	s := expand(t, []string{abs}, Options{Recursive: true})
	if got := s.Files[0].Path; got != filepath.Join(abs, ".hidden") {
		t.Fatalf("first path %q", got)
	}
}

func TestPatterns(t *testing.T) {
	chdir(t, sample)
	cases := []struct {
		name             string
		include, exclude []string
		want             []string // rels
	}{
		{"base name at any depth", []string{"*.txt"}, nil, []string{"a/b/deep.txt", "a.txt", "b.txt"}},
		{"anchored", []string{"docs/*.md"}, nil, []string{"docs/readme.md"}},
		{"doublestar", []string{"docs/**/*.md"}, nil, []string{"docs/readme.md", "docs/x/notes.md"}},
		{"doublestar anywhere", []string{"**/b/*.txt"}, nil, []string{"a/b/deep.txt"}},
		{"leading slash anchors", []string{"/*.txt"}, nil, []string{"a.txt", "b.txt"}},
		{"alternatives", []string{"*.{json,md}"}, nil, []string{"a/z.json", "docs/readme.md", "docs/x/notes.md"}},
		{"exclude wins", []string{"*.txt"}, []string{"a.txt"}, []string{"a/b/deep.txt", "b.txt"}},
		{"exclude prunes by name", nil, []string{"node_modules", "docs", "cache/", ".*", "a", "*.tmp"}, []string{"a.txt", "b.txt"}},
		{"exclude subtree", nil, []string{"a/**", "docs/**", "node_modules/**", "cache/**", "*.tmp", ".hidden"}, []string{"a.txt", "b.txt"}},
		{"dir-only exclude spares files", nil, []string{"c.tmp/", "a/", "docs/", "node_modules/", "cache/", ".hidden"}, []string{"a.txt", "b.txt", "c.tmp"}},
		{"include does not prune", []string{"deep.txt"}, nil, []string{"a/b/deep.txt"}},
		{"case-sensitive", []string{"*.TXT"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := expand(t, []string{"data"}, Options{Recursive: true, Include: c.include, Exclude: c.exclude})
			same(t, "rels", rels(s), c.want)
		})
	}
}

func TestBadPatterns(t *testing.T) {
	chdir(t, sample)
	for _, o := range []Options{
		{Include: []string{"*.txt", "[a-"}},
		{Exclude: []string{"{a,b"}},
		{Exclude: []string{"a\\"}},
		{Include: []string{""}},
		{Exclude: []string{"/"}},
		{Include: []string{"docs/"}},
	} {
		// Patterns are checked before any argument, even a missing one.
		_, err := Expand([]string{"missing"}, o)
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Fatalf("%+v: err = %v; want a *PatternError", o, err)
		}
		bad := append(o.Include, o.Exclude...)
		if pe.Pattern != bad[len(bad)-1] || !strings.Contains(err.Error(), strings.TrimSpace(pe.Pattern)) {
			t.Fatalf("%+v: error %q does not name the pattern", o, err)
		}
	}
}

func TestDuplicates(t *testing.T) {
	chdir(t, sample)
	abs, _ := filepath.Abs("data/a.txt")
	s := expand(t, []string{"data/a.txt", "./data/a.txt", abs, "data/../data/a.txt", "data", "data/a"},
		Options{Recursive: true, Include: []string{"*.txt"}})
	same(t, "paths", paths(s), []string{"data/a.txt", "data/a/b/deep.txt", "data/b.txt"})
}

// A file named as an argument that cannot be uploaded is an error naming
// it and why (a walk skips such files with a reason instead).
func TestNamedFileThatCannotBeUploaded(t *testing.T) {
	chdir(t, sample)
	_, err := Expand([]string{"data/a.txt", "data/empty"}, Options{})
	if err == nil || err.Error() != "data/empty: cannot be uploaded: empty file: there is nothing to upload" {
		t.Fatalf("err = %v", err)
	}
}

func TestSymlinksNotFollowed(t *testing.T) {
	chdir(t, map[string]string{
		"real/f.txt":     "f",
		"data/a.txt":     "a",
		"data/link.txt":  "->a.txt",
		"data/dirlink":   "->../real",
		"data/dangling":  "->nowhere",
		"data/skip.tmp":  "->a.txt",
		"dirarg":         "->data",
		"filearg.txt":    "->real/f.txt",
		"real/other.txt": "o",
	})
	s := expand(t, []string{"data"}, Options{Recursive: true, Exclude: []string{"*.tmp"}})
	same(t, "paths", paths(s), []string{"data/a.txt"})
	sk := skipped(s)
	for _, p := range []string{"data/link.txt", "data/dirlink", "data/dangling"} {
		if !strings.Contains(sk[p], "--follow-symlinks") {
			t.Fatalf("skipped = %v; want %s reported as not followed", sk, p)
		}
	}
	if _, ok := sk["data/skip.tmp"]; ok {
		t.Fatal("an excluded link was reported")
	}
	// Links named as arguments are followed.
	s = expand(t, []string{"dirarg", "filearg.txt", "data/link.txt"}, Options{Recursive: true})
	same(t, "paths", paths(s), []string{"dirarg/a.txt", "filearg.txt", "data/link.txt"})
	if s.Files[1].Size != 1 || !s.Files[1].Mode.IsRegular() {
		t.Fatalf("a link argument: %+v", s.Files[1])
	}
	if len(s.Skipped) != 4 { // dirarg's links
		t.Fatalf("skipped = %+v", s.Skipped)
	}
	// A link skipped in a walk and named as well is a file.
	s = expand(t, []string{"data", "data/link.txt"}, Options{Recursive: true})
	same(t, "paths", paths(s), []string{"data/a.txt", "data/link.txt"})
	if _, ok := skipped(s)["data/link.txt"]; ok {
		t.Fatalf("skipped = %v; data/link.txt is listed as a file", s.Skipped)
	}
}

func TestSymlinksFollowed(t *testing.T) {
	chdir(t, map[string]string{
		"real/f.txt":    "f",
		"data/a.txt":    "a",
		"data/link.txt": "->a.txt",
		"data/dirlink":  "->../real",
		"data/dangling": "->nowhere",
		"data/sub/up":   "->..",
		"data/sub/self": "->.",
		"data/sub/b.md": "b",
		"real/back":     "->../data",
		"loop1":         "->loop2",
		"loop2":         "->loop1",
		"data/cycle":    "->../loop1",
	})
	s := expand(t, []string{"data"}, Options{Recursive: true, FollowSymlinks: true})
	same(t, "paths", paths(s), []string{"data/a.txt", "data/dirlink/f.txt", "data/link.txt", "data/sub/b.md"})
	if got := rels(s)[1]; got != "dirlink/f.txt" {
		t.Fatalf("rel through a link = %q", got)
	}
	sk := skipped(s)
	for p, want := range map[string]string{
		"data/dirlink/back": "loop", "data/sub/up": "loop", "data/sub/self": "loop",
		"data/dangling": "broken", "data/cycle": "broken",
	} {
		if !strings.Contains(sk[p], want) {
			t.Fatalf("skipped = %v; want %s as %s", sk, p, want)
		}
	}
	// Patterns see the link's path, and prune links to directories.
	s = expand(t, []string{"data"}, Options{Recursive: true, FollowSymlinks: true, Exclude: []string{"dirlink/", "sub"}})
	same(t, "paths", paths(s), []string{"data/a.txt", "data/link.txt"})
	s = expand(t, []string{"data"}, Options{Recursive: true, FollowSymlinks: true, Include: []string{"dirlink/*.txt"}})
	same(t, "paths", paths(s), []string{"data/dirlink/f.txt"})
}

func TestNoArguments(t *testing.T) {
	s, err := Expand(nil, Options{})
	if err != nil || len(s.Files) != 0 || len(s.Skipped) != 0 {
		t.Fatalf("Expand(nil) = %+v, %v", s, err)
	}
}
