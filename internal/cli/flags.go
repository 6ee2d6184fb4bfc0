package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
)

// Flag groups: every command's help lists its own flags first, then the
// API flags, then the common ones, in that order and under those titles.
const (
	groupAnnotation = "uploads_group"
	groupAPI        = "API flags"
	groupCommon     = "Common flags"
)

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

// inGroup puts the named flags of fs in group.
func inGroup(fs *pflag.FlagSet, group string, names ...string) {
	for _, n := range names {
		_ = fs.SetAnnotation(n, groupAnnotation, []string{group})
	}
}

// addCommonFlags adds the flags every command that reads the configuration
// takes: --config, --format, --json.
func (f *Factory) addCommonFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.ConfigFile, "config", "", "config file (env UPLOADS_CONFIG; default $XDG_CONFIG_HOME/uploads/config.yaml)")
	fl.String("format", defaultOf[string]("format"), "output format: json or text (env UPLOADS_FORMAT)")
	fl.BoolVar(&f.JSON, "json", false, "shorthand for --format json")
	inGroup(fl, groupCommon, "config", "format", "json")
}

// addAPIFlags adds the flags of every command that calls the API: where it
// is and who calls it.
func (f *Factory) addAPIFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.String("base-url", defaultOf[string]("base-url"), "API base URL, ending in /v1 (env OPENAI_BASE_URL)")
	fl.String("api-key", "", "API key (env OPENAI_API_KEY); never printed")
	fl.String("organization", "", "OpenAI organization id (env OPENAI_ORG_ID)")
	fl.String("project", "", "OpenAI project id (env OPENAI_PROJECT_ID)")
	fl.Duration("timeout", defaultOf[time.Duration]("timeout"), "time limit of each attempt of a JSON call; complete gets at least 5m, parts are bounded by --stall-timeout instead (env UPLOADS_TIMEOUT)")
	fl.String("azure-endpoint", "", "Azure OpenAI endpoint, https://RESOURCE.openai.azure.com (or …/openai/v1); instead of --base-url (env AZURE_OPENAI_ENDPOINT)")
	fl.String("api-version", "", "Azure OpenAI API version (env OPENAI_API_VERSION; default "+api.DefaultAPIVersion+")")
	fl.String("azure-ad-token-command", "", "with Azure and no API key, a command that prints an Entra ID token, e.g. 'az account get-access-token --resource https://cognitiveservices.azure.com --query accessToken -o tsv' (env UPLOADS_AZURE_AD_TOKEN_COMMAND)")
	fl.String("ca-cert", "", "PEM file of certificate authorities to trust besides the system's, for a server with a private CA such as 'uploads serve --tls' (env UPLOADS_CA_CERT; SSL_CERT_FILE replaces the system's)")
	inGroup(fl, groupAPI, "base-url", "api-key", "organization", "project", "timeout", "ca-cert", "azure-endpoint", "api-version", "azure-ad-token-command")
}

// addJournalDirFlag adds --journal-dir.
func addJournalDirFlag(cmd *cobra.Command) {
	cmd.Flags().String("journal-dir", "", "where resume journals live (env UPLOADS_JOURNAL_DIR; default $XDG_STATE_HOME/uploads)")
}

// addStallTimeoutFlag adds --stall-timeout to a command that sends parts.
func addStallTimeoutFlag(cmd *cobra.Command) {
	cmd.Flags().Duration("stall-timeout", defaultOf[time.Duration]("stall-timeout"), "cut and retry a part whose bytes stop moving, or whose answer does not come once sent, for this long; 0 never cuts (env UPLOADS_STALL_TIMEOUT)")
}

// addRetriesFlag adds --retries, read through the configuration (key
// retries, env UPLOADS_RETRIES). The SDK retries the small JSON calls at most
// 4 times (capped).
func addRetriesFlag(cmd *cobra.Command, capped bool) {
	usage := "retries after a transient failure (env UPLOADS_RETRIES)"
	if capped {
		usage = "retries after a transient failure, at most 4 here (env UPLOADS_RETRIES)"
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

// usage writes a command's usage: its synopsis, examples, commands, and
// its flags in the groups every command shares.
func usage(w io.Writer, c *cobra.Command) error {
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() {
		fmt.Fprintf(&b, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n  %s [command]", c.CommandPath())
	}
	if c.HasExample() {
		fmt.Fprintf(&b, "\n\nExamples:\n%s", c.Example)
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n\nCommands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(&b, "\n  %-*s %s", c.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	groups := map[string]*pflag.FlagSet{}
	all := pflag.NewFlagSet("", pflag.ContinueOnError)
	all.AddFlagSet(c.LocalFlags())
	all.AddFlagSet(c.InheritedFlags())
	all.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		g := "Flags"
		if v := fl.Annotations[groupAnnotation]; len(v) > 0 {
			g = v[0]
		}
		if groups[g] == nil {
			groups[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
			groups[g].SortFlags = true
		}
		groups[g].AddFlag(fl)
	})
	for _, g := range []string{"Flags", groupAPI, groupCommon} {
		if fs := groups[g]; fs != nil {
			fmt.Fprintf(&b, "\n\n%s:\n%s", g, strings.TrimRight(fs.FlagUsages(), " \n"))
		}
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
