package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/openai/openai-go/v3"
	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
)

// CancelOptions are the argument of `uploads cancel`.
type CancelOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc

	UploadID string
}

// NewCmdCancel builds `uploads cancel`.
func NewCmdCancel(f *Factory) *cobra.Command {
	o := &CancelOptions{IO: f.IO}
	var flagID string
	cmd := &cobra.Command{
		Use:   "cancel UPLOAD_ID",
		Short: "Cancel a pending upload; its parts are discarded",
		Long: `Cancel a pending upload and print it (status "cancelled"). Its parts are
discarded and no file is made.

When there is nothing left to cancel, the server answers 400
(upload_not_pending, upload_expired) or, on some servers, 404. The command
then finds out how the upload ended and says so plainly:

  - already cancelled or expired: "uploads: UPLOAD_ID is already cancelled;
    nothing to cancel" on stderr, the upload on stdout, exit 0 — the end state
    a cancel asks for holds;
  - already completed: an error naming the upload's file, exit 3 — the bytes
    became a file, which 'uploads files delete' removes if it is not wanted;
  - unknown (a 404 from a server that cannot tell): exit 3.

Text output (--format text) is the upload id and its status.`,
		Example: `  uploads cancel upload_abc123
  trap 'uploads cancel "$id" >/dev/null' ERR`,
		Args: positional(0, "UPLOAD_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uploadIDArg(cmd, flagID, args)
			if err != nil {
				return err
			}
			o.UploadID, o.Ctx, o.Client = id, cmd.Context(), f.clientFor(cmd)
			return cancelRun(o)
		},
	}
	cmd.Flags().StringVar(&flagID, "upload-id", "", "the upload (instead of the UPLOAD_ID argument)")
	addRetriesFlag(cmd, true)
	return cmd
}

func cancelRun(o *CancelOptions) error {
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	show := func(u *openai.Upload) error {
		return o.IO.export(cfg).object(api.RawJSON(u), func() string { return u.ID + " " + string(u.Status) })
	}
	u, err := c.Cancel(o.Ctx, o.UploadID)
	if err == nil {
		return show(u)
	}
	code, status := apiCode(err), apiStatus(err)
	ended := status == http.StatusNotFound ||
		status == http.StatusBadRequest && (code == "upload_not_pending" || code == "upload_expired")
	if !ended {
		return err
	}
	// Nothing left to cancel: find out how the upload ended (GET
	// /uploads/{id} is an extension of the bundled server).
	u, gerr := c.GetUpload(o.Ctx, o.UploadID)
	switch {
	case gerr == nil && (u.Status == openai.UploadStatusCancelled || u.Status == openai.UploadStatusExpired):
		fmt.Fprintf(o.IO.Err, "uploads: %s is already %s; nothing to cancel\n", o.UploadID, u.Status)
		return show(u)
	case gerr == nil && u.Status == openai.UploadStatusCompleted:
		return withHint(exitError{ExitAPIRejected, fmt.Errorf("%s is already completed (file %s); nothing to cancel", o.UploadID, u.File.ID)},
			"if the file is not wanted, delete it: uploads files delete %s", u.File.ID)
	case code == "upload_expired":
		fmt.Fprintf(o.IO.Err, "uploads: %s is already expired; nothing to cancel\n", o.UploadID)
		return nil
	case code == "upload_not_pending":
		return withHint(exitError{ExitAPIRejected, fmt.Errorf("%s has already ended (completed or cancelled); nothing to cancel", o.UploadID)},
			"if it was completed, its file remains; 'uploads files list' shows it")
	}
	return withHint(err, "no such upload here, or it has already ended (some servers answer 404 to a cancel after completion or cancellation): nothing is left to cancel")
}
