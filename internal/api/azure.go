package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
)

// DefaultAPIVersion is the Azure OpenAI API version used when none is
// configured: the first to list the Uploads API.
const DefaultAPIVersion = "2025-04-01-preview"

// apiVersionPattern is the form of an Azure API version: a date, maybe
// "-preview".
var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// Azure says how to reach Azure OpenAI instead of an OpenAI-style base URL.
type Azure struct {
	// Endpoint is the resource's endpoint, https://RESOURCE.openai.azure.com
	// (its /openai/… paths, with ?api-version=), or that endpoint followed
	// by /openai/v1 (the v1 form: the OpenAI API under the resource, no
	// api-version).
	Endpoint string
	// APIVersion is sent as ?api-version= with every request.
	APIVersion string
	// Token is an Entra ID bearer token, used when there is no API key.
	Token string
	// TokenCommand, when set, is run (by sh -c) for a token each time one
	// is needed and the last has expired: it prints the token on stdout,
	// as `az account get-access-token --query accessToken -o tsv` does.
	TokenCommand string
}

// azureOptions are the SDK options for a (checked) Azure configuration.
func azureOptions(cfg Config) ([]option.RequestOption, error) {
	a := cfg.Azure
	u, err := url.Parse(a.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("Azure endpoint %q is not an http(s) URL such as https://RESOURCE.openai.azure.com", a.Endpoint)
	}
	version := a.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	if !apiVersionPattern.MatchString(version) {
		return nil, fmt.Errorf("API version %q: expected a date such as %s (OPENAI_API_VERSION, --api-version)", version, DefaultAPIVersion)
	}
	endpoint := strings.TrimSuffix(a.Endpoint, "/")
	if strings.HasSuffix(endpoint, "/openai/v1") {
		// The v1 form is the OpenAI API under the resource: no api-version,
		// no deployments, the api-key header or a bearer token.
		opts := []option.RequestOption{option.WithBaseURL(endpoint + "/")}
		switch {
		case cfg.APIKey != "":
			return append(opts, option.WithHeader("api-key", cfg.APIKey)), nil
		case a.Token != "" || a.TokenCommand != "":
			src := &tokenSource{token: a.Token, command: a.TokenCommand}
			return append(opts, option.WithMiddleware(src.bearer)), nil
		}
		return nil, ErrNoAzureCredential
	}
	// The classic form: the SDK's azure package adds /openai and the
	// api-version to every request.
	endpoint = strings.TrimSuffix(endpoint, "/openai")
	opts := []option.RequestOption{azure.WithEndpoint(endpoint, version)}
	switch {
	case cfg.APIKey != "":
		opts = append(opts, azure.WithAPIKey(cfg.APIKey))
	case a.Token != "" || a.TokenCommand != "":
		opts = append(opts, azure.WithTokenCredential(&tokenSource{token: a.Token, command: a.TokenCommand}))
	default:
		return nil, ErrNoAzureCredential
	}
	if u.Scheme == "http" {
		// A credential over plain HTTP: the SDK allows it only to a
		// loopback address (a local server in Azure's shape).
		opts = append(opts, azure.WithUnsafeAllowHTTP())
	}
	return opts, nil
}

// ErrNoAzureCredential means Azure was configured without a key or token.
var ErrNoAzureCredential = errors.New("no Azure credential: set AZURE_OPENAI_API_KEY (or --api-key), or an Entra ID token in AZURE_OPENAI_AD_TOKEN, or a command that prints one in UPLOADS_AZURE_AD_TOKEN_COMMAND (--azure-ad-token-command)")

// tokenSource is an azcore.TokenCredential from a fixed token or a command.
type tokenSource struct {
	token, command string

	mu      sync.Mutex
	last    string
	expires time.Time
}

// commandTokenLife is how long a token from the command is reused: Entra
// tokens live an hour or more; asking again every 5 minutes is cheap.
const commandTokenLife = 5 * time.Minute

// bearer is a middleware that sends the token as a bearer token.
func (t *tokenSource) bearer(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	tok, err := t.GetToken(req.Context(), policy.TokenRequestOptions{})
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	return next(req)
}

func (t *tokenSource) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if t.command == "" {
		return azcore.AccessToken{Token: t.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last != "" && time.Now().Before(t.expires) {
		return azcore.AccessToken{Token: t.last, ExpiresOn: t.expires}, nil
	}
	out, err := exec.CommandContext(ctx, "sh", "-c", t.command).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return azcore.AccessToken{}, fmt.Errorf("the token command failed: %v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return azcore.AccessToken{}, fmt.Errorf("the token command failed: %w", err)
	}
	tok := strings.TrimSpace(string(out))
	if tok == "" || strings.ContainsAny(tok, " \n\t") {
		return azcore.AccessToken{}, errors.New("the token command printed no token (expected one line: the token)")
	}
	t.last, t.expires = tok, time.Now().Add(commandTokenLife)
	return azcore.AccessToken{Token: tok, ExpiresOn: t.expires}, nil
}
