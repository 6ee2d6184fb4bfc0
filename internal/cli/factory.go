package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
)

// factory gives commands what they share: the streams, the resolved
// configuration and an API client. Tests replace HTTPClient.
type factory struct {
	IO         IOStreams
	ConfigFile string // --config
	JSON       bool   // --json
	// Args are the command line's arguments, for messages that repeat it.
	Args       []string
	HTTPClient *http.Client

	// The settings and the client, resolved once (Config, Client); the
	// client knows how its last failed attempt failed.
	loaded bool
	cfg    config.Config
	cfgErr error
	client *api.Client
}

// explainTimeout says what a request that ran out of time was waiting
// for, and what to do.
func (f *factory) explainTimeout(err error) error {
	if f.client == nil {
		return withHint(fmt.Errorf("request timed out: %w", err),
			"a request took longer than --timeout (UPLOADS_TIMEOUT, default 10m); raise it, or check the server")
	}
	err = f.client.ExplainTimeout(err)
	var te *api.TimeoutError
	if errors.As(err, &te) && te.LastAttempt != nil {
		return withHint(fmt.Errorf("request timed out: %w", err),
			"check that the server at %s is running and reachable (--base-url, OPENAI_BASE_URL)", te.BaseURL)
	}
	return withHint(fmt.Errorf("request timed out: %w", err),
		"the server did not answer within --timeout (UPLOADS_TIMEOUT, default 10m); raise it, or check the server")
}

// explainRefused says that nothing listens at the base URL, and where that
// URL came from.
func (f *factory) explainRefused(err error) error {
	if f.client == nil {
		return err
	}
	base := f.client.BaseURL()
	if u, perr := url.Parse(base); perr == nil {
		base = u.Redacted() // a password in the URL is never printed
	}
	return withHint(err, "nothing answered at %s (the base URL, from %s); check that the server is running and the URL is right",
		base, f.cfg.From("base_url"))
}

// Config resolves the settings for cmd: flags, environment, file, defaults.
// It is resolved once (a process runs one command); later calls return
// the same result.
func (f *factory) Config(cmd *cobra.Command) (config.Config, error) {
	if f.loaded {
		return f.cfg, f.cfgErr
	}
	cfg, err := config.Load(cmd.Flags(), f.ConfigFile)
	if err != nil {
		err = configErr(err)
	} else if f.JSON {
		cfg.Format = "json"
	}
	f.cfg, f.cfgErr, f.loaded = cfg, err, true
	return cfg, err
}

// jsonAsked reports whether JSON output was asked for on the command line
// (--json, or --format json): the commands whose default output is a text
// of their own (put's ids, journal list's table) print JSON only then,
// whatever the config file's format.
func (f *factory) jsonAsked(cmd *cobra.Command) bool {
	return f.JSON || cmd.Flags().Changed("format") && cmd.Flag("format").Value.String() == "json"
}

// Client returns the API client for cmd's configuration, made once.
func (f *factory) Client(cmd *cobra.Command) (*api.Client, config.Config, error) {
	cfg, err := f.Config(cmd)
	if err != nil || f.client != nil {
		return f.client, cfg, err
	}
	key := cfg.APIKey
	if cfg.AzureEndpoint != "" && cfg.AzureAPIKey != "" && !cmd.Flags().Changed("api-key") {
		// For Azure, AZURE_OPENAI_API_KEY wins over OPENAI_API_KEY (both
		// are often set on one machine); --api-key wins over both.
		key = cfg.AzureAPIKey
	}
	c, err := api.New(api.Config{
		BaseURL: cfg.BaseURL, APIKey: key, Organization: cfg.Organization, Project: cfg.Project,
		Azure:   api.Azure{Endpoint: cfg.AzureEndpoint, APIVersion: cfg.APIVersion, Token: cfg.AzureADToken, TokenCommand: cfg.AzureADTokenCommand},
		Timeout: cfg.Timeout, StallTimeout: cfg.StallTimeout, MaxRetries: min(cfg.Retries, 4), HTTPClient: f.HTTPClient,
		CACertFile: cfg.CACert,
		UserAgent:  "uploads/" + Version,
	})
	if err != nil {
		if ce := (*api.CACertError)(nil); errors.As(err, &ce) {
			err = fmt.Errorf("--ca-cert (or UPLOADS_CA_CERT, ca_cert in the config file): %w", err)
		}
		return nil, cfg, configErr(err)
	}
	f.client = c
	return c, cfg, nil
}

// unixTime formats a Unix timestamp for text output.
func unixTime(sec int64) string {
	if sec == 0 {
		return "-"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}
