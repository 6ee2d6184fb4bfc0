package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/uploads-dev/uploads/internal/check"
	"github.com/uploads-dev/uploads/internal/config"
	"github.com/uploads-dev/uploads/internal/fileset"
	"github.com/uploads-dev/uploads/internal/mimetype"
	"github.com/uploads-dev/uploads/internal/seen"
	"github.com/uploads-dev/uploads/internal/units"
	"github.com/uploads-dev/uploads/internal/upload"
)

// putFile is one file of a put run, as planned before any request.
type putFile struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	Purpose  string `json:"purpose"`
	MimeType string `json:"mime_type"`
	PartSize int64  `json:"part_size"`
	Parts    int    `json:"parts"`
	// MD5 is the file's MD5 when the plan read the file (--skip-existing).
	MD5 string `json:"md5,omitempty"`
	// Check is "ok", "off" (--no-check) or what is wrong.
	Check string `json:"check"`
	// Existing is the file id of the same content uploaded before, for
	// --skip-existing (in a dry run, not confirmed with the server).
	Existing string `json:"existing_file_id,omitempty"`

	problem error // the check's verdict, nil when it passes
}

// planPut lists the files of a put run (arguments, directories, patterns)
// and what each would be: its MIME type, part size and parts, and the checks
// that need no content. No request is made and no file is read.
func planPut(o *putOptions, opts upload.Options) ([]*putFile, []fileset.Skipped, error) {
	set, err := fileset.Expand(o.Files, fileset.Options{Recursive: o.Recursive, Include: o.Include, Exclude: o.Exclude, FollowSymlinks: o.FollowSymlinks})
	if err != nil {
		var pe *fileset.PatternError
		if errors.As(err, &pe) {
			return nil, nil, usagef(err)
		}
		return nil, nil, err
	}
	var files []*putFile
	for _, f := range set.Files {
		pf := &putFile{Path: f.Path, Size: f.Size, Purpose: o.Purpose, MimeType: o.MimeType, PartSize: opts.PartSizeFor(f.Size), Check: "off"}
		if pf.MimeType == "" {
			if pf.MimeType, err = mimetype.DetectFile(f.Path); err != nil {
				return nil, nil, err
			}
		}
		pf.Parts = int((f.Size + pf.PartSize - 1) / pf.PartSize)
		if !o.NoCheck {
			pf.Check = "ok"
			if err := check.Before(o.Purpose, f.Path, f.Size, pf.MimeType); err != nil {
				pf.problem, pf.Check = err, err.Error()
			}
		}
		files = append(files, pf)
	}
	return files, set.Skipped, nil
}

// checkFailure is a file refused by the checks before sending: the
// service would refuse it too, so it counts as the API's refusal (exit 3).
type checkFailure struct{ err error }

func (e checkFailure) Error() string { return e.err.Error() }
func (e checkFailure) Unwrap() error { return e.err }

// hintOf is the check's own hint, when it has one.
func (e checkFailure) hint() string {
	var ce *check.Error
	if errors.As(e.err, &ce) {
		return ce.Hint()
	}
	return "pass --no-check to send it anyway"
}

// putDryRun prints the plan: what each file would be, and the checks'
// verdicts (which read the files), without any request. It exits 3 when a
// check fails, as the run would.
func putDryRun(o *putOptions, cfg config.Config, files []*putFile, index *seen.Index) error {
	failed := 0
	for _, pf := range files {
		p := upload.Planned{Path: pf.Path, Size: pf.Size, MimeType: pf.MimeType, Refused: pf.problem}
		if err := upload.Inspect(o.Ctx, &p, pf.Purpose, o.SkipExisting, !o.NoCheck); err != nil {
			return err
		}
		pf.MD5 = p.MD5
		if p.Refused != nil && pf.problem == nil {
			pf.problem, pf.Check = p.Refused, p.Refused.Error()
		}
		if pf.problem != nil {
			failed++
		}
		if o.SkipExisting && index != nil {
			if rec, ok := index.Lookup(cfg.BaseURL, pf.Purpose, pf.Size, pf.MD5); ok {
				pf.Existing = rec.FileID
			}
		}
	}
	exp := o.IO.export(cfg)
	if o.JSON {
		for _, pf := range files {
			b, _ := json.Marshal(pf)
			if err := exp.line(b); err != nil {
				return err
			}
		}
	} else {
		t := table([]string{"PATH", "SIZE", "PURPOSE", "MIME TYPE", "PARTS", "CHECK"}, len(files), func(i int) []any {
			pf := files[i]
			verdict := pf.Check
			if pf.Existing != "" {
				verdict += "; uploaded before as " + pf.Existing + " (skipped if the server still has it)"
			}
			return []any{pf.Path, units.FormatSize(pf.Size), pf.Purpose, pf.MimeType, partsText(pf), verdict}
		})
		if _, err := fmt.Fprintln(exp.w, t); err != nil {
			return err
		}
	}
	if failed > 0 {
		return exitError{code: ExitAPIRejected, err: fmt.Errorf("dry run: %d of %d files would be refused by the checks (nothing was sent)", failed, len(files))}
	}
	return nil
}

// partsText is how a file will be cut: "1 × 4.5 KiB" (the part is the
// file), "3 × 64 MiB", or "3 × 64 MiB (last 10 MiB)".
func partsText(pf *putFile) string {
	if pf.Parts <= 1 {
		return "1 × " + units.FormatSize(pf.Size)
	}
	s := fmt.Sprintf("%d × %s", pf.Parts, units.FormatSize(pf.PartSize))
	if last := pf.Size - int64(pf.Parts-1)*pf.PartSize; last != pf.PartSize {
		s += " (last " + units.FormatSize(last) + ")"
	}
	return s
}
