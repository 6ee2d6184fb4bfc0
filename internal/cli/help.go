package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/uploads-dev/uploads/internal/suggest"
)

// Help and usage errors.
//
// A command's help is its description, its usage (synopsis, examples,
// commands, and its flags in groups), then HelpTrailer, wrapped at word
// boundaries to the terminal's width (80 columns when it is not a terminal).
// A usage error is one short message and one hint that points to the
// command's help: never the whole usage, which would scroll the error away.

// Flag groups, in the order the help lists them. Flags without a group are
// listed first, under "Flags"; -h/--help ends the last group.
const (
	groupFlags  = "Flags"
	groupWhat   = "What to send"
	groupHow    = "How to send"
	groupResume = "Resume and reruns"
	groupOutput = "Output"
	groupAPI    = "API and connection flags"
	groupCommon = "Common flags"
)

var groupOrder = []string{groupFlags, groupWhat, groupHow, groupResume, groupOutput, groupAPI, groupCommon}

// putFlagGroups are put's flags by use, each group in the order listed. A
// flag of put left out of them would be listed under "Flags" (a test checks
// that none is).
var putFlagGroups = []struct {
	group string
	names []string
}{
	{groupWhat, []string{"purpose", "recursive", "include", "exclude", "follow-symlinks", "skip-existing", "fail-on-skip",
		"no-check", "mime-type", "expires-after-seconds", "size", "filename"}},
	{groupHow, []string{"part-size", "min-part-size", "concurrency", "jobs", "limit-rate", "retries", "stall-timeout", "wait", "wait-timeout"}},
	{groupResume, []string{"restart", "verify", "cancel-on-failure", "journal-dir"}},
	{groupOutput, []string{"dry-run", "progress", "quiet", "manifest", "json", "format"}},
}

// groupPutFlags puts put's flags (its own, the API's and the common ones,
// all added) in putFlagGroups.
func groupPutFlags(cmd *cobra.Command) {
	for _, g := range putFlagGroups {
		inGroup(cmd.Flags(), g.group, g.names...)
	}
}

// flagVarNames name the value a flag takes, in the help ("--part-size
// SIZE"); a flag not listed here is named after its type.
var flagVarNames = map[string]string{
	"purpose": "PURPOSE", "part-size": "SIZE", "min-part-size": "SIZE", "journal-dir": "DIR", "config": "FILE",
	"manifest": "FILE", "include": "GLOB", "exclude": "GLOB", "base-url": "URL", "api-key": "KEY",
	"organization": "ID", "project": "ID", "azure-endpoint": "URL", "api-version": "VERSION",
	"azure-ad-token-command": "COMMAND", "ca-cert": "FILE", "format": "FORMAT", "mime-type": "TYPE",
	"progress": "MODE", "filename": "NAME", "limit-rate": "RATE", "data-dir": "DIR", "addr": "ADDR",
	"output": "FILE", "upload-id": "ID", "part-id": "ID", "part-ids-file": "FILE", "md5": "HEX",
	"md5-of": "FILE", "allow-mime": "PURPOSE=TYPES", "fault-kinds": "KINDS", "fault-on": "ENDPOINTS",
	"log-format": "FORMAT", "process-fail": "GLOB", "tls-cert": "FILE", "tls-key": "FILE", "tls-host": "NAME",
}

// varName is what the help calls fl's value: "" for a boolean flag.
func varName(fl *pflag.Flag) string {
	if n, ok := flagVarNames[fl.Name]; ok {
		return n
	}
	switch fl.Value.Type() {
	case "bool":
		return ""
	case "int", "int64", "int32", "uint", "uint64", "count":
		return "N"
	case "duration":
		return "DURATION"
	case "size":
		return "SIZE"
	case "float64", "float32":
		return "NUMBER"
	}
	return "VALUE"
}

// defaultText is " (default X)" when fl's default is worth saying.
func defaultText(fl *pflag.Flag) string {
	d := fl.DefValue
	switch fl.Value.Type() {
	case "bool":
		if d == "false" {
			return ""
		}
	case "duration":
		if v, err := time.ParseDuration(d); err == nil {
			d = shortDuration(v)
		}
	}
	switch d {
	case "", "0", "0s", "[]", "<nil>", "false":
		return ""
	}
	return " (default " + d + ")"
}

// shortDuration is d without its zero units: 1m, 30m, 1h30m, 1.5s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// flagGroup is a flag's group and its place in it (flags without a place
// follow, by name).
func flagGroup(fl *pflag.Flag) (string, int) {
	v := fl.Annotations[groupAnnotation]
	if len(v) == 0 {
		return groupFlags, 1 << 20
	}
	i := 1 << 20
	if len(v) > 1 {
		if n, err := strconv.Atoi(v[1]); err == nil {
			i = n
		}
	}
	return v[0], i
}

// writeHelp writes c's help: its description, its usage and the trailer.
func writeHelp(w io.Writer, c *cobra.Command, width int) error {
	var b strings.Builder
	if text := strings.TrimRightFunc(cmp(c.Long, c.Short), isSpace); text != "" {
		b.WriteString(reflow(text, width))
		b.WriteString("\n\n")
	}
	if c.Runnable() || c.HasSubCommands() {
		b.WriteString(usageText(c, width))
	}
	b.WriteString("\n" + wrapLines(HelpTrailer, width) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapLines wraps the lines of text wider than width (on a terminal
// narrower than the 80 columns text such as HelpTrailer is written for),
// their continuation lines indented as they are.
func wrapLines(text string, width int) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if utf8.RuneCountInString(l) > width {
			body := strings.TrimLeft(l, " ")
			lines[i] = hanging(l[:len(l)-len(body)], body, width)
		}
	}
	return strings.Join(lines, "\n")
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }

// usageText is a command's usage: its synopsis, examples, commands, and
// its flags in their groups.
func usageText(c *cobra.Command, width int) string {
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() {
		fmt.Fprintf(&b, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n  %s [command]", c.CommandPath())
	}
	if c.HasExample() {
		// Examples are pasted as they are: never wrapped.
		fmt.Fprintf(&b, "\n\nExamples:\n%s", strings.TrimRight(c.Example, "\n"))
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n\nCommands:")
		pad := c.NamePadding()
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				b.WriteString("\n" + hanging(fmt.Sprintf("  %-*s ", pad, sub.Name()), sub.Short, width))
			}
		}
	}
	b.WriteString(flagsText(c, width))
	if c.HasAvailableSubCommands() {
		more := fmt.Sprintf("Use \"%s [command] --help\" for more information about a command.", c.CommandPath())
		b.WriteString("\n\n" + strings.Join(wrapWords(more, width), "\n"))
	}
	b.WriteString("\n")
	return b.String()
}

// maxFlagColumn is the widest "  -q, --quiet" column the descriptions are
// aligned after; a flag with a longer name has its description on the next
// line.
const maxFlagColumn = 31

// flagsText lists c's flags under their groups' titles, each with its
// description after the names, all aligned.
func flagsText(c *cobra.Command, width int) string {
	type entry struct {
		names, usage string
		group        string
		order        int
		name         string
	}
	var entries []entry
	seen := map[string]bool{}
	add := func(fl *pflag.Flag) {
		if fl.Hidden || seen[fl.Name] {
			return
		}
		seen[fl.Name] = true
		names := "    --" + fl.Name
		if fl.Shorthand != "" && fl.ShorthandDeprecated == "" {
			names = "-" + fl.Shorthand + ", --" + fl.Name
		}
		if v := varName(fl); v != "" {
			names += " " + v
		}
		g, i := flagGroup(fl)
		entries = append(entries, entry{names: "  " + names, usage: fl.Usage + defaultText(fl), group: g, order: i, name: fl.Name})
	}
	c.LocalFlags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	if len(entries) == 0 {
		return ""
	}
	// -h/--help ends the last group.
	last := 0
	for _, e := range entries {
		if e.name != "help" {
			last = max(last, slices.Index(groupOrder, e.group))
		}
	}
	for i := range entries {
		if entries[i].name == "help" {
			entries[i].group, entries[i].order = groupOrder[last], 1<<21
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		ga, gb := slices.Index(groupOrder, a.group), slices.Index(groupOrder, b.group)
		switch {
		case ga != gb:
			return ga - gb
		case a.order != b.order:
			return a.order - b.order
		}
		return strings.Compare(a.name, b.name)
	})
	col := 0
	for _, e := range entries {
		if n := utf8.RuneCountInString(e.names); n <= maxFlagColumn {
			col = max(col, n)
		}
	}
	col += 2
	// On a narrow terminal every description goes under its flag.
	if width-col < 30 {
		col = 8
	}
	var b strings.Builder
	group := ""
	for _, e := range entries {
		if e.group != group {
			group = e.group
			fmt.Fprintf(&b, "\n\n%s:", group)
		}
		b.WriteString("\n")
		if n := utf8.RuneCountInString(e.names); n+2 > col {
			b.WriteString(e.names + "\n")
			b.WriteString(hanging(strings.Repeat(" ", col), e.usage, width))
			continue
		}
		b.WriteString(hanging(fmt.Sprintf("%-*s", col, e.names), e.usage, width))
	}
	return b.String()
}

// hanging is text after head, wrapped to width at word boundaries, its
// lines after the first indented as far as head is wide.
func hanging(head, text string, width int) string {
	indent := utf8.RuneCountInString(head)
	lines := wrapWords(text, max(width-indent, 20))
	if len(lines) == 0 {
		return strings.TrimRight(head, " ")
	}
	return head + strings.Join(lines, "\n"+strings.Repeat(" ", indent))
}

// wrapWords breaks text into lines of at most width columns, at spaces; a
// word longer than width gets a line of its own.
func wrapWords(text string, width int) []string {
	var lines []string
	var line strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		wn := utf8.RuneCountInString(word)
		if n > 0 && n+1+wn > width {
			lines = append(lines, line.String())
			line.Reset()
			n = 0
		}
		if n > 0 {
			line.WriteByte(' ')
			n++
		}
		line.WriteString(word)
		n += wn
	}
	if n > 0 {
		lines = append(lines, line.String())
	}
	return lines
}

// reflow rewraps the paragraphs of text that do not fit width; a paragraph
// with an indented line (an example, a list) is left as it is.
func reflow(text string, width int) string {
	paras := strings.Split(text, "\n\n")
	for i, p := range paras {
		lines := strings.Split(p, "\n")
		fits, indented := true, false
		for _, l := range lines {
			fits = fits && utf8.RuneCountInString(l) <= width
			indented = indented || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		}
		if !fits && !indented {
			paras[i] = strings.Join(wrapWords(p, width), "\n")
		}
	}
	return strings.Join(paras, "\n\n")
}

// flagError turns a flag parsing error into a usage error that says what
// is wrong, suggests the flag or command meant, and nothing more.
func flagError(c *cobra.Command, err error) error {
	// "uploads pt clip.mp4 --purpose video": the mistake is the command,
	// not the flag the group does not know.
	if c.HasAvailableSubCommands() {
		if args := c.Flags().Args(); len(args) > 0 {
			return unknownCommand(c, args[0])
		}
	}
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && ne.GetSpecifiedShortnames() == "" {
		msg := fmt.Sprintf("unknown flag --%s for %q", ne.GetSpecifiedName(), c.CommandPath())
		if s := suggestFlags(c, ne.GetSpecifiedName()); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usagef(errors.New(msg))
	}
	return usagef(err)
}

// unknownCommand is the usage error of a word that is none of cmd's
// commands, with the commands it may have meant.
func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef(errors.New(msg))
}

// suggestFlags are the flags of c closest to the unknown name typed: those
// it is a prefix of, or at the smallest edit distance, if small.
func suggestFlags(c *cobra.Command, typed string) []string {
	typed = strings.ToLower(typed)
	best, bestD := []string(nil), 3
	if utf8.RuneCountInString(typed) < 5 {
		bestD = 2
	}
	var prefixed []string
	c.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden || fl.Name == "help" {
			return
		}
		if len(typed) >= 3 && strings.HasPrefix(fl.Name, typed) {
			prefixed = append(prefixed, "--"+fl.Name)
			return
		}
		switch d := suggest.Distance(typed, fl.Name); {
		case d < bestD:
			best, bestD = []string{"--" + fl.Name}, d
		case d == bestD:
			best = append(best, "--"+fl.Name)
		}
	})
	if len(prefixed) > 0 && len(prefixed) <= 3 {
		return prefixed
	}
	if len(best) > 3 {
		return nil
	}
	return best
}

// flagValues are the values named when a required flag is missing.
var flagValues = map[string][]string{"purpose": purposes}

// requiredFlagError replaces cobra's error for required flags that were
// not given ("required flag(s) "purpose" not set", exit 1) with a usage
// error that names them and their values.
func requiredFlagError(cmd *cobra.Command, err error) error {
	if cmd == nil || !strings.HasPrefix(err.Error(), "required flag(s) ") {
		return err
	}
	var missing []string
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if v := fl.Annotations[cobra.BashCompOneRequiredFlag]; len(v) > 0 && v[0] == "true" && !fl.Changed {
			missing = append(missing, fl.Name)
		}
	})
	if len(missing) == 0 {
		return err
	}
	var parts []string
	for _, n := range missing {
		s := "--" + n + " is required"
		if vs := flagValues[n]; len(vs) > 0 {
			s += ": one of " + strings.Join(vs, ", ")
		}
		parts = append(parts, s)
	}
	return usagef(errors.New(strings.Join(parts, "; ")))
}

// usageHint points from a usage error to the help of the command it is
// about.
func usageHint(cmd *cobra.Command) string {
	path := "uploads"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return fmt.Sprintf("run '%s --help' for usage", path)
}
