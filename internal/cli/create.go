package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/fileset"
	"github.com/uploads-dev/uploads/internal/mimetype"
)

// createOptions are the flags and argument of `uploads create`.
type createOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc

	// File, when set, gives the bytes and the filename, and the MIME type
	// unless MimeType is set.
	File         string
	Filename     string
	Purpose      string
	Bytes        int64
	MimeType     string
	ExpiresAfter int64 // seconds; 0: not sent
}

// newCmdCreate builds `uploads create`.
func newCmdCreate(f *factory) *cobra.Command {
	o := &createOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "create [FILE] --purpose PURPOSE",
		Short: "Create an upload: a session that accepts parts for one file",
		Long: `Create an upload and print the Upload object.

With FILE, the byte count and the filename come from the file and the MIME
type is detected (by extension, then by content); --filename and --mime-type
override them. Without FILE, give --filename, --bytes and --mime-type.

The upload accepts parts (uploads parts add) until it is completed,
cancelled or expired (an hour after creation on the real service).
--expires-after-seconds sets when the resulting file expires (3600..2592000).

Text output (--format text) is the upload id.`,
		Example: `  uploads create clip.mp4 --purpose video
  uploads create --filename data.jsonl --purpose batch --bytes 2147483648 --mime-type application/jsonl
  id=$(uploads create clip.mp4 --purpose video --format text)`,
		Args: positional(0, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.File = args[0]
			}
			if err := o.check(cmd); err != nil {
				return err
			}
			o.Ctx, o.Client = cmd.Context(), f.clientFor(cmd)
			return createRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Filename, "filename", "", "name of the file to create (default with FILE: its base name)")
	fl.StringVar(&o.Purpose, "purpose", "", "intended purpose: assistants, batch, fine-tune, vision, user_data, evals, video (required)")
	fl.Int64Var(&o.Bytes, "bytes", 0, "size of the whole file in bytes (required without FILE)")
	fl.StringVar(&o.MimeType, "mime-type", "", "MIME type of the file; must be allowed for the purpose (default with FILE: detected)")
	fl.Int64Var(&o.ExpiresAfter, "expires-after-seconds", 0, "the file expires this many seconds after it is created (3600..2592000)")
	addRetriesFlag(cmd, true)
	_ = cmd.RegisterFlagCompletionFunc("purpose", completePurpose)
	return cmd
}

// check refuses missing or conflicting flags as usage errors.
func (o *createOptions) check(cmd *cobra.Command) error {
	fl := cmd.Flags()
	var missing []string
	if o.Purpose == "" {
		missing = append(missing, "--purpose")
	}
	if o.File == "" {
		if o.Filename == "" {
			missing = append(missing, "--filename")
		}
		if !fl.Changed("bytes") {
			missing = append(missing, "--bytes")
		}
		if o.MimeType == "" {
			missing = append(missing, "--mime-type")
		}
	}
	if len(missing) == 1 && missing[0] == "--purpose" {
		return usagef(fmt.Errorf("--purpose is required: one of %s", strings.Join(purposes, ", ")))
	}
	if len(missing) > 0 {
		msg := "missing " + strings.Join(missing, ", ")
		if o.File == "" && (len(missing) > 1 || missing[0] != "--purpose") {
			msg += ": give FILE, or all of --filename, --bytes and --mime-type"
		}
		return usagef(errors.New(msg))
	}
	switch {
	case o.File != "" && fl.Changed("bytes"):
		return usagef(fmt.Errorf("--bytes cannot be given with FILE: the size is taken from %s", o.File))
	case fl.Changed("expires-after-seconds") && o.ExpiresAfter <= 0:
		return usagef(fmt.Errorf("--expires-after-seconds %d must be positive (the API accepts 3600..2592000)", o.ExpiresAfter))
	}
	return nil
}

func createRun(o *createOptions) error {
	n := api.NewUpload{Filename: o.Filename, Purpose: o.Purpose, Bytes: o.Bytes, MimeType: o.MimeType, ExpiresAfter: o.ExpiresAfter}
	detected := false
	if o.File != "" {
		size, err := regularFile(o.File)
		if err != nil {
			return err
		}
		n.Bytes = size
		if n.Filename == "" {
			n.Filename = filepath.Base(o.File)
		}
		if n.MimeType == "" {
			if n.MimeType, err = mimetype.DetectFile(o.File); err != nil {
				return fmt.Errorf("detect the MIME type of %s: %w", o.File, err)
			}
			detected = true
		}
	}
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	u, err := c.CreateUpload(o.Ctx, n)
	if err != nil {
		if apiCode(err) == "unsupported_mime_type" && detected {
			return withHint(err, "%s was detected as %s; pass --mime-type with one of the allowed types if that is wrong", o.File, n.MimeType)
		}
		return err
	}
	return o.IO.export(cfg).object(api.RawJSON(u), func() string { return u.ID })
}

// regularFile checks, before any request, that path is a regular file with
// at least one byte, and returns its size.
func regularFile(path string) (int64, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return 0, err
	case st.IsDir():
		return 0, fmt.Errorf("%s is a directory: give a file", path)
	case fileset.Unfit(st) != "":
		return 0, fmt.Errorf("%s: cannot be uploaded: %s", path, fileset.Unfit(st))
	}
	return st.Size(), nil
}
