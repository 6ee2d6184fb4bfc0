// Package cli is the `uploads` command line: it parses flags and arguments,
// calls the core packages, and turns their results into output on stdout,
// messages on stderr and an exit code.
//
// Terminal rules: data goes to stdout; progress, hints and errors go to
// stderr as "uploads: error: …" and "uploads: hint: …", lowercase, with no
// trailing period.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
)

// Build information, set with -ldflags "-X …" at release time (see
// buildInfo for a binary built without them).
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// Main runs the command line with the process's arguments and streams, and
// returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal cancels ctx, for a clean stop; a second one kills the
	// process at once, as if there were no handler.
	context.AfterFunc(ctx, stop)
	return Run(ctx, os.Args[1:], systemIO())
}

// Run runs the command line with args and returns the exit code.
func Run(ctx context.Context, args []string, stdio IOStreams) int {
	f := &factory{IO: stdio, Args: args}
	root := newRootCmd(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	err = requiredFlagError(cmd, err)
	if errors.As(err, new(reportedError)) {
		return exitCode(ctx, err)
	}
	usage := errors.As(err, new(usageError))
	switch {
	case interrupted(ctx, err) && !usage && !errors.As(err, new(interruptedError)):
		err = fmt.Errorf("interrupted: %w", err)
	case errors.Is(err, context.DeadlineExceeded) && !errors.As(err, new(hintError)):
		err = f.explainTimeout(err)
	case errors.Is(err, syscall.ECONNREFUSED) && !errors.As(err, new(hintError)):
		err = f.explainRefused(err)
	}
	if showsUsage(err) && !errors.As(err, new(hintError)) {
		// A usage error is its message and where the usage is: the whole
		// usage would scroll the message out of sight.
		err = withHint(err, "%s", usageHint(cmd))
	}
	reportError(ctx, stdio.Err, err)
	return exitCode(ctx, err)
}

// NewRootCmd builds the `uploads` command and its subcommands; args are the
// arguments it will run with (put quotes them in its resume hint).
func NewRootCmd(stdio IOStreams, args ...string) *cobra.Command {
	return newRootCmd(&factory{IO: stdio, Args: args})
}

func newRootCmd(f *factory) *cobra.Command {
	stdio := f.IO
	root := &cobra.Command{
		Use:   "uploads",
		Short: "Upload large files with the OpenAI Uploads API, or serve that API locally",
		Long: `uploads is a client for the OpenAI Uploads API and a local server that
implements the same API (uploads serve), for tests, CI pipelines and demos.
`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		// --version prints what 'uploads version' prints.
		Version: buildInfo().Version,
	}
	// Every command's help ends with the environment, the files and the
	// exit codes, after its usage; all of it wrapped to the terminal.
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		_ = writeHelp(c.OutOrStdout(), c, stdio.ErrWidth())
	})
	root.SetUsageFunc(func(c *cobra.Command) error {
		_, err := io.WriteString(c.OutOrStderr(), usageText(c, stdio.ErrWidth()))
		return err
	})
	root.SetVersionTemplate(buildInfo().String() + "\n")
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newServeCmd(stdio), newVersionCmd(stdio))
	// Each command that runs gets the flags it uses, as its own flags (not
	// inherited), grouped alike in every help and man page.
	put := newCmdPut(f)
	for _, c := range append(apiCommands(f), put) {
		leaves(c, func(c *cobra.Command) {
			f.addAPIFlags(c)
			f.addCommonFlags(c)
		})
		root.AddCommand(c)
	}
	groupPutFlags(put)
	// journal reads only local files: no API flags.
	j := newCmdJournal(f)
	leaves(j, func(c *cobra.Command) {
		addJournalDirFlag(c)
		f.addCommonFlags(c)
	})
	root.AddCommand(j)
	// cobra's `completion bash|zsh|fish|powershell`, added now (rather than
	// at Execute) so that an unknown shell is a usage error and the docs
	// list it.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args, c.RunE = cobra.ArbitraryArgs, runGroup
		}
	}
	return root
}

func newVersionCmd(stdio IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(stdio.Out, buildInfo().String())
			return err
		},
	}
}

// apiCommands are the commands that talk to the API; each gets the global
// flags (--base-url, --api-key, …).
func apiCommands(f *factory) []*cobra.Command {
	return []*cobra.Command{
		newCmdCreate(f),
		newCmdParts(f),
		newCmdComplete(f),
		newCmdCancel(f),
		newCmdFiles(f),
	}
}

// runGroup is the RunE of a command that only groups others (uploads,
// uploads files, uploads parts): alone it prints its help; followed by a
// word that is not one of its commands, it is a usage error.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return unknownCommand(cmd, args[0])
}

// positional checks the number of positional arguments, naming them in the
// usage error: names are the arguments in order, the first `required` of
// them required.
func positional(required int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < required:
			return usagef(fmt.Errorf("%s needs %s", cmd.CommandPath(), strings.Join(names[len(args):required], " and ")))
		case len(args) > len(names):
			return usagef(fmt.Errorf("%s takes at most %d argument(s) (%s), got %d: %q",
				cmd.CommandPath(), len(names), strings.Join(names, " "), len(args), args))
		}
		return nil
	}
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args))
	}
	return nil
}

// clientFunc defers building the API client (and resolving the
// configuration) until a command's run function needs it.
type clientFunc func() (*api.Client, config.Config, error)

func (f *factory) clientFor(cmd *cobra.Command) clientFunc {
	return func() (*api.Client, config.Config, error) { return f.Client(cmd) }
}

// apiCode is the API's error code behind err, or "".
func apiCode(err error) string {
	if ae, ok := api.ErrorOf(err); ok {
		return ae.Code
	}
	return ""
}

// apiStatus is the HTTP status of the API's error behind err, or 0.
func apiStatus(err error) int {
	if ae, ok := api.ErrorOf(err); ok {
		return ae.StatusCode
	}
	return 0
}

// purposes completes --purpose.
var purposes = []string{"assistants", "batch", "fine-tune", "vision", "user_data", "evals", "video"}

func completePurpose(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return purposes, cobra.ShellCompDirectiveNoFileComp
}

// table formats rows under a header, columns aligned, without a final
// newline (printObject adds it). Control characters in the cells (a
// filename is the API's data) are shown as '?', so that they can neither
// break the table nor drive the terminal.
func table(header []string, n int, row func(int) []any) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	cells := func(vs []any) {
		for i, v := range vs {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return '?'
				}
				return r
			}, fmt.Sprint(v)))
		}
		fmt.Fprintln(tw)
	}
	hs := make([]any, len(header))
	for i, h := range header {
		hs[i] = h
	}
	cells(hs)
	for i := range n {
		cells(row(i))
	}
	_ = tw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// apiParam is the parameter the API's error is about, or "".
func apiParam(err error) string {
	if ae, ok := api.ErrorOf(err); ok {
		return ae.Param
	}
	return ""
}
