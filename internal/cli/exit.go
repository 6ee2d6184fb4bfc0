package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/uploads-dev/uploads/internal/api"
)

// Exit codes. They are listed in the root command's help and the README;
// this is the only place that decides them.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // any other failure
	ExitUsage       = 2   // bad flag or argument
	ExitAPIRejected = 3   // the API refused the request (4xx other than auth)
	ExitAuth        = 4   // authentication or permission (401, 403)
	ExitTransient   = 5   // network, 429 or 5xx, still failing after retries
	ExitInterrupted = 130 // stopped by Ctrl-C or SIGTERM
)

// HelpTrailer ends every command's help (and its reference page): where
// settings come from, and the exit codes.
const HelpTrailer = `ENVIRONMENT
  OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID
      the API key, base URL, organization and project, as the SDKs read them
  AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, OPENAI_API_VERSION,
  AZURE_OPENAI_AD_TOKEN
      Azure OpenAI: the endpoint (not a base URL), key, API version, token
  UPLOADS_CONFIG, UPLOADS_TIMEOUT, UPLOADS_STALL_TIMEOUT, UPLOADS_RETRIES,
  UPLOADS_CONCURRENCY, UPLOADS_PART_SIZE, UPLOADS_MIN_PART_SIZE,
  UPLOADS_JOURNAL_DIR, UPLOADS_FORMAT, UPLOADS_AZURE_AD_TOKEN_COMMAND,
  UPLOADS_CA_CERT
      this tool's settings (a flag wins over these, and these over the file)
  SSL_CERT_FILE, SSL_CERT_DIR, HTTPS_PROXY, NO_PROXY
      the CAs trusted instead of the system's; the proxy (CONNECT)

FILES
  $XDG_CONFIG_HOME/uploads/config.yaml   config file (--config, UPLOADS_CONFIG)
  $XDG_STATE_HOME/uploads                resume journals of put (--journal-dir)

` + exitCodesHelp

const exitCodesHelp = `EXIT STATUS
  0    success
  1    any other failure
  2    usage error (bad flag, missing argument)
  3    the API rejected the request (a 4xx other than 401/403)
  4    authentication or permission (401, 403)
  5    transient failure after retries (network, 429, 5xx)
  130  interrupted (Ctrl-C, SIGTERM)`

// usageError is a mistake in how the command was called. A configuration
// error (a bad setting in a flag, the environment or the config file, a
// missing API key) is one too, with the same exit code, but its message says
// all there is: the command's usage is not shown after it.
type usageError struct {
	err    error
	config bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(err error) error { return usageError{err: err} }

// configErr is a configuration error (see usageError).
func configErr(err error) error { return usageError{err: err, config: true} }

// showsUsage reports whether err is a usage error after which the
// command's usage helps.
func showsUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue) && !ue.config
}

// hintError carries a next step to print after the error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, format string, args ...any) error {
	return hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

// exitError forces an exit code (for example, a batch in which some files failed).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// exitCode maps an error to the process's exit code.
func exitCode(ctx context.Context, err error) int {
	var ue usageError
	var ee exitError
	var re reportedError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &re):
		return re.code
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, new(checkFailure)):
		return ExitAPIRejected
	}
	switch api.Classify(ctx, err) {
	case api.Canceled:
		return ExitInterrupted
	case api.Auth:
		return ExitAuth
	case api.Rejected:
		return ExitAPIRejected
	case api.Transient:
		return ExitTransient
	}
	return ExitFailure
}

// interrupted reports whether err ended a command that was interrupted
// (Ctrl-C, SIGTERM: ctx ended, whatever the error): the one test, for the
// exit code and the messages alike (api.Classify decides it).
func interrupted(ctx context.Context, err error) bool {
	return api.Classify(ctx, err) == api.Canceled
}

// interruptedf is an error that already says the command was interrupted
// (and how far it got): Run does not say it again.
func interruptedf(format string, args ...any) error {
	return interruptedError{fmt.Errorf(format, args...)}
}

type interruptedError struct{ err error }

func (e interruptedError) Error() string { return e.err.Error() }
func (e interruptedError) Unwrap() error { return e.err }

// reportedError is a failure already reported (as JSON events): Run
// prints nothing more and exits with code.
type reportedError struct {
	code int
	err  error
}

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// errorReport is what is said of an error: the message, the API's details
// (status, type, param, code, request) when there are some, and a hint.
type errorReport struct {
	Message, Detail, Hint string
}

// describeError says what went wrong, with the API's message in place of
// the SDK's long rendering, and the hint that helps, if one does.
func describeError(ctx context.Context, err error) errorReport {
	var r errorReport
	if ae, ok := api.ErrorOf(err); ok {
		msg := ae.Message
		if msg == "" {
			msg = fmt.Sprintf("the API answered %d", ae.StatusCode)
		}
		// Keep the context callers wrapped around the API's error (which
		// part, after how many retries), with the API's own message.
		r.Message = strings.Replace(err.Error(), ae.Error(), msg, 1)
		r.Detail = fmt.Sprintf("status %d", ae.StatusCode)
		for _, kv := range [][2]string{{"type", ae.Type}, {"param", ae.Param}, {"code", ae.Code}} {
			if kv[1] != "" {
				r.Detail += ", " + kv[0] + " " + kv[1]
			}
		}
		if ae.Request != nil {
			r.Detail += ", " + ae.Request.Method + " " + ae.Request.URL.Path
		}
	} else {
		r.Message = err.Error()
	}
	var he hintError
	switch {
	case errors.As(err, &he):
		r.Hint = he.hint
	case showsUsage(err):
		r.Hint = "run 'uploads --help' or 'uploads COMMAND --help' for usage"
	case errors.Is(err, api.ErrNoAPIKey):
	case apiParam(err) == "purpose":
		r.Hint = "purposes are passed to the server as given, and the server decides: use one it names above (each provider has its own list; this server's answer is the one that counts)"
	case api.IsCertificateError(err):
		r.Hint = "the server's certificate is not trusted: if it is signed by a private CA (such as 'uploads serve --tls', whose certificate is DATA_DIR/tls/cert.pem), pass that CA with --ca-cert FILE or UPLOADS_CA_CERT, or set SSL_CERT_FILE"
	case wrongBaseURL(err):
		r.Hint = "the server has no such URL: the base URL of the API usually ends in /v1 (for example https://api.openai.com/v1 or http://127.0.0.1:8089/v1); check --base-url or OPENAI_BASE_URL"
	default:
		switch api.Classify(ctx, err) {
		case api.Auth:
			r.Hint = "check the API key (OPENAI_API_KEY, AZURE_OPENAI_API_KEY with Azure, or --api-key) and that it belongs to the organization that owns the object"
		case api.Transient:
			r.Hint = "the failure may be temporary; check the network and --base-url, then run the command again"
		}
	}
	return r
}

// wrongBaseURL reports whether err is a 404 for a path without /v1/: a
// base URL that misses its /v1.
func wrongBaseURL(err error) bool {
	ae, ok := api.ErrorOf(err)
	return ok && ae.StatusCode == http.StatusNotFound && ae.Request != nil && !strings.Contains(ae.Request.URL.Path, "/v1/")
}

// reportError writes err to stderr as "uploads: error: …", with the API's
// status, type, param and code when there are some, and a hint where one
// helps.
func reportError(ctx context.Context, w io.Writer, err error) {
	r := describeError(ctx, err)
	fmt.Fprintf(w, "uploads: error: %s\n", r.Message)
	if r.Detail != "" {
		fmt.Fprintf(w, "uploads: error: (%s)\n", r.Detail)
	}
	if r.Hint != "" {
		fmt.Fprintf(w, "uploads: hint: %s\n", r.Hint)
	}
}
