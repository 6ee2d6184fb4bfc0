package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
)

// Factory gives commands what they share: the streams, the resolved
// configuration and an API client. Tests replace HTTPClient.
type Factory struct {
	IO         IO
	ConfigFile string // --config
	JSON       bool   // --json
	// Args are the command line's arguments, for messages that repeat it.
	Args       []string
	HTTPClient *http.Client
}

// addLocalFlags registers the flags of a command that reads the
// configuration but does not call the API (journal).
func (f *Factory) addLocalFlags(cmd *cobra.Command) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.ConfigFile, "config", "", "config file (env UPLOADS_CONFIG; default $XDG_CONFIG_HOME/uploads/config.yaml)")
	p.String("format", "", "output format: json or text (env UPLOADS_FORMAT; default json)")
	p.BoolVar(&f.JSON, "json", false, "shorthand for --format json")
}

// addGlobalFlags registers the flags every API command takes.
func (f *Factory) addGlobalFlags(cmd *cobra.Command) {
	p := cmd.PersistentFlags()
	p.String("base-url", "", "API base URL (env OPENAI_BASE_URL; default https://api.openai.com/v1)")
	p.String("api-key", "", "API key (env OPENAI_API_KEY); never printed")
	p.String("organization", "", "OpenAI organization id (env OPENAI_ORG_ID)")
	p.String("project", "", "OpenAI project id (env OPENAI_PROJECT_ID)")
	p.Duration("timeout", 0, "time limit of each attempt of a JSON call; complete gets at least 5m, parts are bounded by --stall-timeout instead (env UPLOADS_TIMEOUT; default 10m)")
	p.StringVar(&f.ConfigFile, "config", "", "config file (env UPLOADS_CONFIG; default $XDG_CONFIG_HOME/uploads/config.yaml)")
	p.String("format", "", "output format: json or text (env UPLOADS_FORMAT; default json)")
	p.BoolVar(&f.JSON, "json", false, "shorthand for --format json")
}

// Config resolves the settings for cmd: flags, environment, file, defaults.
func (f *Factory) Config(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.Load(cmd.Flags(), f.ConfigFile)
	if err != nil {
		return cfg, configErr(err)
	}
	if f.JSON {
		cfg.Format = "json"
	}
	return cfg, nil
}

// Client returns an API client for cmd's configuration.
func (f *Factory) Client(cmd *cobra.Command) (*api.Client, config.Config, error) {
	cfg, err := f.Config(cmd)
	if err != nil {
		return nil, cfg, err
	}
	c, err := api.New(api.Config{
		BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Organization: cfg.Organization, Project: cfg.Project,
		Timeout: cfg.Timeout, StallTimeout: cfg.StallTimeout, MaxRetries: min(cfg.Retries, 4), HTTPClient: f.HTTPClient,
		UserAgent: "uploads/" + Version,
	})
	if err != nil {
		return nil, cfg, configErr(err)
	}
	return c, cfg, nil
}

// terminalWidth is w's width in columns when it is a terminal, else 80.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printJSON writes an API object: indented on a terminal, one line otherwise.
func printJSON(w io.Writer, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	var b []byte
	if isTerminal(w) {
		b, _ = json.MarshalIndent(v, "", "  ")
	} else {
		b, _ = json.Marshal(v)
	}
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

// printJSONLine writes an API object as one line of JSON.
func printJSONLine(w io.Writer, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b, _ := json.Marshal(v)
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

// printObject writes raw as JSON, or text(…) in the text format.
func printObject(w io.Writer, cfg config.Config, raw json.RawMessage, text func() string) error {
	if cfg.Format == "text" {
		_, err := fmt.Fprintln(w, text())
		return err
	}
	return printJSON(w, raw)
}

// unixTime formats a Unix timestamp for text output.
func unixTime(sec int64) string {
	if sec == 0 {
		return "-"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}
