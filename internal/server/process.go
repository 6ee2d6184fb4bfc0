package server

import (
	"fmt"
	"path"

	"github.com/uploads-dev/uploads/internal/store"
)

// File statuses, as the OpenAPI description lists them for OpenAIFile.
const (
	FileUploaded  = "uploaded"
	FileProcessed = "processed"
	FileError     = "error"
)

// CheckProcessFail reports whether glob is a pattern ProcessFail can use
// (path.Match syntax: *, ?, [a-z], \ to escape).
func CheckProcessFail(glob string) error {
	if _, err := path.Match(glob, ""); err != nil {
		return fmt.Errorf("%q is not a valid pattern (path.Match syntax: *, ?, [a-z], \\ to escape): %w", glob, err)
	}
	return nil
}

// fileStatus is a file's status as of the store's clock, and the details of
// a failure. Nothing runs in the background: a file is "uploaded" until
// ProcessDelay has passed since its creation, then "processed", or "error"
// when its filename matches ProcessFail. Both depend only on the durable
// record and the configuration, so a restart changes nothing (unless the
// configuration changes).
func (s *Server) fileStatus(f store.File) (status, details string) {
	if s.ProcessDelay > 0 && s.store.Now().Sub(f.Created()) < s.ProcessDelay {
		return FileUploaded, ""
	}
	if s.ProcessFail != "" {
		// A malformed pattern matches nothing (Run refuses it up front).
		if ok, _ := path.Match(s.ProcessFail, f.Filename); ok {
			return FileError, fmt.Sprintf("processing failed: %q could not be parsed as %s data "+
				"(injected by this test server: the filename matches the --process-fail pattern %q)",
				f.Filename, f.Purpose, s.ProcessFail)
		}
	}
	return FileProcessed, ""
}
