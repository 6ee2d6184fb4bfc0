package cli

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
)

// completeOptions are the flags and argument of `uploads complete`.
type completeOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc

	UploadID string
	PartIDs  []string
	// PartIDsFile holds more part ids, one a line ("-": stdin).
	PartIDsFile string
	MD5         string // hex
	// MD5Of is a file whose MD5 is computed and sent.
	MD5Of string
}

// newCmdComplete builds `uploads complete`.
func newCmdComplete(f *factory) *cobra.Command {
	o := &completeOptions{IO: f.IO}
	var flagID string
	cmd := &cobra.Command{
		Use:   "complete UPLOAD_ID --part-id ID... | --part-ids-file FILE",
		Short: "Complete an upload: its parts, in order, become a file",
		Long: `Complete an upload and print it, with the new file under "file".

The parts are given in the order their bytes belong in the file: with
--part-id (repeatable, or comma-separated), or with --part-ids-file, one id a
line ("-" reads stdin). In that file, empty lines and lines starting with #
are ignored, and a line that is a JSON object (the output of 'uploads parts
add') gives its "id". Parts not listed are discarded.

--md5 sends the MD5 of the whole file (hex) for the server to check;
--md5-of FILE computes it from FILE, reading it once.

Text output (--format text) is the file id.`,
		Example: `  uploads complete upload_abc123 --part-id part_1 --part-id part_2 --md5-of clip.mp4
  uploads complete upload_abc123 --part-ids-file parts.txt
  cat parts.jsonl | uploads complete upload_abc123 --part-ids-file -`,
		Args: positional(0, "UPLOAD_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uploadIDArg(cmd, flagID, args)
			if err != nil {
				return err
			}
			o.UploadID = id
			if err := o.check(); err != nil {
				return err
			}
			o.Ctx, o.Client = cmd.Context(), f.clientFor(cmd)
			return completeRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&flagID, "upload-id", "", "the upload (instead of the UPLOAD_ID argument)")
	fl.StringSliceVar(&o.PartIDs, "part-id", nil, "a part id, in file order (repeatable, or comma-separated)")
	fl.StringVar(&o.PartIDsFile, "part-ids-file", "", "file of part ids, one a line, in file order (- for stdin)")
	fl.StringVar(&o.MD5, "md5", "", "MD5 of the whole file, in hex, for the server to check")
	fl.StringVar(&o.MD5Of, "md5-of", "", "compute the MD5 to send from this file (- for stdin)")
	addRetriesFlag(cmd, true)
	return cmd
}

// uploadIDArg takes the upload id from the one positional argument or from
// --upload-id, not both.
func uploadIDArg(cmd *cobra.Command, flagID string, args []string) (string, error) {
	switch {
	case flagID != "" && len(args) > 0:
		return "", usagef(fmt.Errorf("the upload id is given twice (--upload-id and %q)", args[0]))
	case flagID != "":
		return flagID, nil
	case len(args) == 0 || args[0] == "":
		return "", usagef(fmt.Errorf("%s needs UPLOAD_ID (or --upload-id)", cmd.CommandPath()))
	}
	return args[0], nil
}

func (o *completeOptions) check() error {
	switch {
	case len(o.PartIDs) > 0 && o.PartIDsFile != "":
		return usagef(errors.New("give the part ids with --part-id or with --part-ids-file, not both"))
	case len(o.PartIDs) == 0 && o.PartIDsFile == "":
		return usagef(errors.New("no part ids: give --part-id ID (repeatable) or --part-ids-file FILE"))
	case o.MD5 != "" && o.MD5Of != "":
		return usagef(errors.New("give --md5 or --md5-of, not both"))
	case o.MD5 != "" && !isMD5Hex(o.MD5):
		return usagef(fmt.Errorf("--md5 %q is not an MD5 in hex (32 characters 0-9a-f)", o.MD5))
	case o.PartIDsFile == "-" && o.MD5Of == "-":
		return usagef(errors.New("stdin cannot be both --part-ids-file and --md5-of"))
	}
	for _, id := range o.PartIDs {
		if strings.TrimSpace(id) == "" {
			return usagef(errors.New("--part-id is empty"))
		}
	}
	return nil
}

func isMD5Hex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == md5.Size
}

func completeRun(o *completeOptions) error {
	ids := o.PartIDs
	if o.PartIDsFile != "" {
		var err error
		if ids, err = o.readPartIDs(); err != nil {
			return err
		}
	}
	sum := strings.ToLower(o.MD5)
	if o.MD5Of != "" {
		var err error
		if sum, err = o.md5Of(); err != nil {
			return err
		}
	}
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	started := time.Now()
	u, err := c.Complete(o.Ctx, o.UploadID, ids, sum)
	if err == nil {
		return o.IO.export(cfg).object(api.RawJSON(u), func() string { return u.File.ID })
	}
	if raw, fileID, ok := o.findCompleted(c, err, started); ok {
		return o.IO.export(cfg).object(raw, func() string { return fileID })
	}
	return completeHint(err, o, len(ids))
}

// lostAnswerWindow is how far before this command's start a file found
// after a lost answer may have been created: it allows for the server's
// clock running behind ours.
const lostAnswerWindow = 5 * time.Minute

// findCompleted looks for the file of an upload whose complete failed in a
// way that may hide a success: the answer was lost (the SDK's retry then
// hears that the upload is no longer pending), or never came. The API
// cannot read an upload, so the file is found in the files list by the
// name and size of --md5-of's file, created since this command started.
// It prints a warning and reports the file when there is one.
func (o *completeOptions) findCompleted(c *api.Client, err error, started time.Time) (json.RawMessage, string, bool) {
	code := apiCode(err)
	if o.MD5Of == "" || o.MD5Of == "-" || o.Ctx.Err() != nil ||
		(code != "upload_not_pending" && api.Classify(o.Ctx, err) != api.Transient) {
		return nil, "", false
	}
	st, serr := os.Stat(o.MD5Of)
	if serr != nil {
		return nil, "", false
	}
	name := filepath.Base(o.MD5Of)
	files, ferr := c.FindFiles(o.Ctx, "", name, st.Size(), started.Add(-lostAnswerWindow).Unix())
	if ferr != nil || len(files) != 1 {
		return nil, "", false
	}
	f := files[0]
	warnf(o.IO.Err, "the answer to complete %s was lost (%s); the server made file %s (%s, %d bytes), which is the result",
		o.UploadID, shortError(err), f.ID, name, f.Bytes)
	raw, _ := json.Marshal(map[string]any{"id": o.UploadID, "object": "upload", "status": "completed",
		"filename": f.Filename, "bytes": f.Bytes, "purpose": f.Purpose, "file": api.RawJSON(&f)})
	return raw, f.ID, true
}

// shortError is an error's API message, or its text.
func shortError(err error) string {
	if ae, ok := api.ErrorOf(err); ok && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}

// completeHint adds a next step to the refusals that have one.
func completeHint(err error, o *completeOptions, n int) error {
	if api.Classify(o.Ctx, err) == api.Transient {
		return withHint(err, "the server may have completed the upload and its answer been lost: run the command again with --md5-of FILE to find the file it made (or look in 'uploads files list', newest first)")
	}
	switch apiCode(err) {
	case "bytes_mismatch":
		return withHint(err, "the %d listed parts must add up to the bytes declared at create; 'uploads parts list %s' shows each part's size (bundled server)", n, o.UploadID)
	case "md5_mismatch":
		return withHint(err, "the listed parts, in this order, do not have that MD5: check the order of the part ids and that the MD5 is of the same file")
	case "upload_not_pending":
		return withHint(err, "if an earlier attempt's answer was lost, the upload is completed: its file is in 'uploads files list' (newest first; --md5-of FILE finds it by name and size); if it was cancelled, create a new upload and send the parts again")
	case "upload_expired":
		return withHint(err, "an expired upload cannot be completed; create a new upload and send its parts again (uploads put does both)")
	}
	return err
}

// readPartIDs reads --part-ids-file: one id a line; empty lines and # comments
// ignored; a JSON object line gives its "id".
func (o *completeOptions) readPartIDs() ([]string, error) {
	name, r := o.PartIDsFile, io.Reader(&ctxReader{ctx: o.Ctx, r: o.IO.In})
	if name == "-" {
		name = "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var ids []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || strings.HasPrefix(s, "#"):
			continue
		case strings.HasPrefix(s, "{"):
			var p struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(s), &p); err != nil || p.ID == "" {
				return nil, fmt.Errorf("%s line %d: a JSON line must be an object with an \"id\", such as the output of 'uploads parts add'", name, line)
			}
			s = p.ID
		case strings.ContainsAny(s, " \t,"):
			return nil, fmt.Errorf("%s line %d: %q is not one part id: give one id a line", name, line, s)
		}
		ids = append(ids, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s has no part ids: expected one id a line", name)
	}
	return ids, nil
}

// md5Of computes the MD5 of --md5-of, streaming.
func (o *completeOptions) md5Of() (string, error) {
	r, name := io.Reader(&ctxReader{ctx: o.Ctx, r: o.IO.In}), "stdin"
	if o.MD5Of != "-" {
		f, err := os.Open(o.MD5Of)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r, name = f, o.MD5Of
	}
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("compute the MD5 of %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
