package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
)

// cancelOptions are the argument of `uploads cancel`.
type cancelOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc

	UploadID string
}

// newCmdCancel builds `uploads cancel`.
func newCmdCancel(f *factory) *cobra.Command {
	o := &cancelOptions{IO: f.IO}
	var flagID string
	cmd := &cobra.Command{
		Use:   "cancel UPLOAD_ID",
		Short: "Cancel a pending upload; its parts are discarded",
		Long: `Cancel a pending upload and print it (status "cancelled"). Its parts are
discarded and no file is made.

When there is nothing left to cancel, the command says so on stderr, prints
nothing on stdout and exits 0: no upload is pending any more, which is what a
cancel asks for. It knows only the cancel's answer (the API has no call that
reads an upload):

  - 400 upload_expired: "UPLOAD_ID has expired; nothing to cancel";
  - 400 upload_not_pending: "UPLOAD_ID is no longer pending (completed or
    cancelled)", and how to find and delete its file if it was completed;
  - 404: an error (exit 3): the id is unknown (some servers also answer 404
    once an upload has ended).

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

func cancelRun(o *cancelOptions) error {
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	u, err := c.Cancel(o.Ctx, o.UploadID)
	if err == nil {
		return o.IO.export(cfg).object(api.RawJSON(u), func() string { return u.ID + " " + string(u.Status) })
	}
	// Nothing left to cancel? The cancel's answer is all the real API says:
	// no GET of an upload exists there, so this never asks for one.
	switch code := apiCode(err); {
	case code == "upload_expired":
		notef(o.IO.Err, "%s has expired; nothing to cancel", o.UploadID)
		return nil
	case code == "upload_not_pending":
		notef(o.IO.Err, "%s is no longer pending (completed or cancelled); nothing to cancel", o.UploadID)
		notef(o.IO.Err, "if it was completed, its file remains: 'uploads files list' shows it and 'uploads files delete FILE_ID' removes it")
		return nil
	case apiStatus(err) == http.StatusNotFound:
		return withHint(err, "check the id; some servers also answer 404 to a cancel of an upload that has already ended, which leaves nothing to cancel")
	}
	return err
}
