package cli

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/config"
)

// Factory gives commands what they share: the streams, the resolved
// configuration and an API client. Tests replace HTTPClient.
type Factory struct {
	IO         IOStreams
	ConfigFile string // --config
	JSON       bool   // --json
	// Args are the command line's arguments, for messages that repeat it.
	Args       []string
	HTTPClient *http.Client

	// client is the last client made, which knows how its last failed
	// attempt failed.
	client *api.Client
}

// explainTimeout says what a request that ran out of time was waiting
// for, and what to do.
func (f *Factory) explainTimeout(err error) error {
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
