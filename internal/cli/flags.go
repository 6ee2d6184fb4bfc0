package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
)

// groupAnnotation holds a flag's group (see help.go) and its place in it.
const groupAnnotation = "uploads_group"

// defaultOf is the default of a setting (config.Settings), so that a flag's
// help and its man page show the value that applies when it is not given.
func defaultOf[T int | string | time.Duration](flag string) T {
	var zero T
	for _, s := range config.Settings {
		if s.Flag != flag {
			continue
		}
		switch d := any(s.Default).(type) {
		case T:
			return d
		case string:
			if dur, err := time.ParseDuration(d); err == nil {
				if v, ok := any(dur).(T); ok {
					return v
				}
			}
		}
	}
	return zero
}

// inGroup puts the named flags of fs in group, in that order.
func inGroup(fs *pflag.FlagSet, group string, names ...string) {
	for i, n := range names {
		_ = fs.SetAnnotation(n, groupAnnotation, []string{group, strconv.Itoa(i)})
	}
}

// addCommonFlags adds the flags every command that reads the configuration
// takes: --config, --format, --json.
func (f *factory) addCommonFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.ConfigFile, "config", "", "config file (default: see FILES below)")
	fl.String("format", defaultOf[string]("format"), "output format: json or text")
	fl.BoolVar(&f.JSON, "json", false, "shorthand for --format json")
	inGroup(fl, groupCommon, "config", "format", "json")
}

// addAPIFlags adds the flags of every command that calls the API: where it
// is and who calls it.
func (f *factory) addAPIFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.String("base-url", defaultOf[string]("base-url"), "API URL")
	fl.String("api-key", "", "API key; never printed")
	fl.String("organization", "", "OpenAI organization id")
	fl.String("project", "", "OpenAI project id")
	fl.Duration("timeout", defaultOf[time.Duration]("timeout"), "time limit per JSON call attempt")
	fl.String("azure-endpoint", "", "Azure OpenAI endpoint, instead of --base-url")
	fl.String("api-version", "", "Azure API version (default "+api.DefaultAPIVersion+")")
	fl.String("azure-ad-token-command", "", "command that prints an Entra ID token (Azure)")
	fl.String("ca-cert", "", "PEM file of CAs to trust besides the system's")
	inGroup(fl, groupAPI, "base-url", "api-key", "organization", "project", "timeout", "ca-cert", "azure-endpoint", "api-version", "azure-ad-token-command")
}

// addJournalDirFlag adds --journal-dir (put and the journal commands).
func addJournalDirFlag(cmd *cobra.Command) {
	cmd.Flags().String("journal-dir", "", "where resume journals live (default: see FILES)")
}

// addStallTimeoutFlag adds --stall-timeout to a command that sends parts.
func addStallTimeoutFlag(cmd *cobra.Command) {
	cmd.Flags().Duration("stall-timeout", defaultOf[time.Duration]("stall-timeout"), "retry parts stalled this long")
}

// addRetriesFlag adds --retries, read through the configuration (key
// retries, env UPLOADS_RETRIES). The SDK retries the small JSON calls at most
// 4 times (capped).
func addRetriesFlag(cmd *cobra.Command, capped bool) {
	usage := "retries after a transient failure"
	if capped {
		usage = "retries after a transient failure, at most 4 here"
	}
	cmd.Flags().Int("retries", defaultOf[int]("retries"), usage)
}

// leaves calls fn for every runnable command under cmd (and cmd itself).
func leaves(cmd *cobra.Command, fn func(*cobra.Command)) {
	if cmd.Runnable() && !cmd.HasSubCommands() {
		fn(cmd)
	}
	for _, c := range cmd.Commands() {
		leaves(c, fn)
	}
}
