// Command gendocs writes the command reference of uploads from its cobra
// commands: one Markdown page per command in docs/reference and one man page
// per command in docs/man (run by `make docs`; the output is committed).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/uploads-dev/uploads/internal/cli"
)

func main() {
	out := flag.String("out", "docs", "directory that receives reference/ and man/")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: error: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	// Defaults that come from the environment are shown by name, not as
	// this machine's paths.
	for _, v := range []string{"XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"} {
		if err := os.Setenv(v, "$"+v); err != nil {
			return err
		}
	}
	root := cli.NewRootCmd(cli.IOStreams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	root.DisableAutoGenTag = true
	// The help's trailer (environment, files, exit status) is part of each
	// page, as it is of each command's help.
	walk(root, func(c *cobra.Command) {
		if c.Long == "" {
			c.Long = c.Short
		}
		c.Long = fenceIndented(c.Long + "\n\n" + cli.HelpTrailer)
	})

	ref, man := filepath.Join(out, "reference"), filepath.Join(out, "man")
	for _, d := range []struct{ dir, ext string }{{ref, ".md"}, {man, ".1"}} {
		if err := clean(d.dir, d.ext); err != nil {
			return err
		}
	}
	if err := doc.GenMarkdownTree(root, ref); err != nil {
		return err
	}
	// One man page per command, each titled by its command (UPLOADS-PUT(1)).
	var err error
	walk(root, func(c *cobra.Command) {
		if err != nil || !c.IsAvailableCommand() && c != root {
			return
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		header := &doc.GenManHeader{Title: strings.ToUpper(name), Section: "1", Source: "uploads", Manual: "uploads manual"}
		var f *os.File
		if f, err = os.Create(filepath.Join(man, name+".1")); err != nil {
			return
		}
		var buf bytes.Buffer
		if err = doc.GenMan(c, header, &buf); err == nil {
			_, err = f.Write(manSections(buf.Bytes()))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// manSections makes the trailer's headings (ENVIRONMENT, FILES, EXIT STATUS)
// sections of the man page, as man pages have them, instead of paragraphs of
// its description.
func manSections(page []byte) []byte {
	for _, h := range []string{"ENVIRONMENT", "FILES", "EXIT STATUS"} {
		page = bytes.ReplaceAll(page, []byte(".PP\n"+h+"\n"), []byte(".SH "+h+"\n"))
	}
	return page
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// clean creates dir and removes its generated files, so that a command that
// is gone loses its page.
func clean(dir, ext string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "uploads*"+ext))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}

// fenceIndented turns each block of lines indented by two spaces (such as
// the EXIT STATUS table) into a fenced code block, so that Markdown and man
// keep its lines; indented list items ("  - …") stay a list.
func fenceIndented(long string) string {
	lines := strings.Split(long, "\n")
	var b strings.Builder
	block := "" // "code", "list" or ""
	for i, l := range lines {
		indented := strings.HasPrefix(l, "  ") && strings.TrimSpace(l) != ""
		switch {
		case indented && block == "" && strings.HasPrefix(l, "  - "):
			block = "list"
		case indented && block == "":
			b.WriteString("\n```\n")
			block = "code"
		case !indented && block == "code":
			b.WriteString("```\n")
			block = ""
		case !indented:
			block = ""
		}
		b.WriteString(l)
		if i < len(lines)-1 || block == "code" {
			b.WriteString("\n")
		}
	}
	if block == "code" {
		b.WriteString("```\n")
	}
	return b.String()
}
