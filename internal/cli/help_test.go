package cli

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every flag of put is in one of its groups: none is left in a "Flags" list.
func TestPutFlagsAreGrouped(t *testing.T) {
	root := NewRootCmd(IOStreams{})
	put, _, err := root.Find([]string{"put"})
	if err != nil {
		t.Fatal(err)
	}
	put.Flags().VisitAll(func(fl *pflag.Flag) {
		if g, _ := flagGroup(fl); g == groupFlags {
			t.Errorf("put's flag --%s is in no group: add it to putFlagGroups", fl.Name)
		}
	})
}

// Help is wrapped to the terminal's width at word boundaries; only the
// synopsis and the examples (pasted as they are) may be wider.
func TestHelpFitsWidth(t *testing.T) {
	for _, width := range []int{50, 80, 120} {
		for _, args := range [][]string{{"put", "--help"}, {"serve", "--help"}, {"files", "list", "--help"}, {"--help"}} {
			var out bytes.Buffer
			if code := Run(context.Background(), args, IOStreams{Out: &out, Err: &out, Width: width}); code != 0 {
				t.Fatalf("%v: exit %d", args, code)
			}
			inExamples := false
			for _, l := range strings.Split(out.String(), "\n") {
				switch {
				case l == "Examples:":
					inExamples = true
				case l == "" || !strings.HasPrefix(l, " "):
					inExamples = false
				}
				if utf8.RuneCountInString(l) > width && !inExamples && !strings.HasPrefix(l, "  uploads ") {
					t.Errorf("width %d, %v: line of %d columns: %q", width, args, utf8.RuneCountInString(l), l)
				}
			}
		}
	}
}

func TestWrapWords(t *testing.T) {
	got := wrapWords("one two three four five", 9)
	want := []string{"one two", "three", "four five"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrapWords = %q, want %q", got, want)
	}
	if got := wrapWords("a-very-long-word x", 5); got[0] != "a-very-long-word" || got[1] != "x" {
		t.Errorf("a long word is not cut: %q", got)
	}
}

func TestSuggestFlags(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	cmd.Flags().String("purpose", "", "")
	cmd.Flags().Int("concurrency", 0, "")
	cmd.Flags().Bool("dry-run", false, "")
	cmd.Flags().Bool("verify", false, "")
	for typed, want := range map[string]string{
		"purpse": "--purpose", "PURPOSE": "--purpose", "conc": "--concurrency", "dryrun": "--dry-run",
		"verfy": "--verify", "zzzzzz": "", "ve": "",
	} {
		if got := strings.Join(suggestFlags(cmd, typed), " "); got != want {
			t.Errorf("suggestFlags(%q) = %q, want %q", typed, got, want)
		}
	}
}

// A binary built without -ldflags says the version and VCS stamp the go
// command recorded; what -ldflags set wins.
func TestResolveBuild(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2025-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	got := resolveBuild(build{"dev", "none", "unknown"}, info)
	if want := (build{"v1.4.0", "0123456789ab-dirty", "2025-01-02T03:04:05Z"}); got != want {
		t.Errorf("without ldflags: %+v, want %+v", got, want)
	}
	set := build{"v2.0.0", "abc1234", "2025-06-01T00:00:00Z"}
	if got := resolveBuild(set, info); got != set {
		t.Errorf("with ldflags: %+v, want %+v", got, set)
	}
	devel := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	if got := resolveBuild(build{"dev", "none", "unknown"}, devel); got != (build{"dev", "none", "unknown"}) {
		t.Errorf("(devel), no VCS: %+v", got)
	}
	if got := resolveBuild(build{"dev", "none", "unknown"}, nil); got.Version != "dev" {
		t.Errorf("no build info: %+v", got)
	}
}
