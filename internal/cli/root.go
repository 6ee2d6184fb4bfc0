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
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Build information, set with -ldflags "-X …" at release time.
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs the command line with the process's arguments and streams, and
// returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// Run runs the command line with args and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := NewRootCmd(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		reportError(ctx, stdio.Err, err)
	}
	return exitCode(ctx, err)
}

// NewRootCmd builds the `uploads` command and its subcommands.
func NewRootCmd(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "uploads",
		Short: "Upload large files with the OpenAI Uploads API, or serve that API locally",
		Long: `uploads is a client for the OpenAI Uploads API and a local server that
implements the same API (uploads serve), for tests, CI pipelines and demos.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef(fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	f := &Factory{IO: stdio}
	root.AddCommand(NewServeCmd(stdio, nil), newVersionCmd(stdio))
	for _, c := range apiCommands(f) {
		f.addGlobalFlags(c)
		root.AddCommand(c)
	}
	return root
}

func newVersionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(stdio.Out, "uploads %s (commit %s, built %s)\n", Version, Commit, Date)
			return err
		},
	}
}

// apiCommands are the commands that talk to the API; each gets the global
// flags (--base-url, --api-key, …).
func apiCommands(f *Factory) []*cobra.Command {
	return nil
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args))
	}
	return nil
}
