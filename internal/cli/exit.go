package cli

import (
	"context"
	"errors"
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

const exitCodesHelp = `EXIT STATUS
  0    success
  1    any other failure
  2    usage error (bad flag, missing argument)
  3    the API rejected the request (a 4xx other than 401/403)
  4    authentication or permission (401, 403)
  5    transient failure after retries (network, 429, 5xx)
  130  interrupted (Ctrl-C, SIGTERM)`

// usageError is a mistake in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(err error) error { return usageError{err} }

// exitCode maps an error to the process's exit code.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	default:
		return ExitFailure
	}
}
