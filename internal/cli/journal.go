package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/config"
	"github.com/uploads-dev/uploads/internal/journal"
)

// newCmdJournal is `uploads journal list|show|rm`: the resume journals of
// interrupted uploads.
func newCmdJournal(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "List, show and remove the resume journals of interrupted uploads",
		Long: `An interrupted 'uploads put' leaves a journal in $XDG_STATE_HOME/uploads (or
--journal-dir) so that running the same command again resumes it. These commands
show the journals and remove those you no longer want (removing a journal does not
cancel its session: use 'uploads cancel UPLOAD_ID' for that, or let it expire).`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the journals of interrupted uploads",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, _, err := journalStore(f, cmd)
			if err != nil {
				return err
			}
			entries, err := store.List()
			if err != nil {
				return err
			}
			if f.jsonAsked(cmd) {
				for _, e := range entries {
					if e.Journal != nil {
						if err := f.IO.export(config.Config{}).line(summary(e)); err != nil {
							return err
						}
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tFILE\tPURPOSE\tUPLOAD\tPARTS\tEXPIRES")
			for _, e := range entries {
				if e.Err != nil {
					fmt.Fprintf(tw, "%s\t(unreadable: %v)\t\t\t\t\n", e.Key, errors.Unwrap(e.Err))
					continue
				}
				j := e.Journal
				done, _ := j.Acked()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", e.Key, j.Fingerprint.Path, j.Fingerprint.Purpose, j.UploadID,
					done, len(j.Parts), time.Unix(j.ExpiresAt, 0).UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use:   "show KEY|FILE",
		Short: "Print one journal as JSON",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := journalStore(f, cmd)
			if err != nil {
				return err
			}
			e, err := findJournal(store, args[0])
			if err != nil {
				return err
			}
			if e.Err != nil {
				return e.Err
			}
			b, _ := json.Marshal(e.Journal)
			return f.IO.export(config.Config{}).object(b, nil)
		},
	}
	var all bool
	rm := &cobra.Command{
		Use:   "rm KEY|FILE... | --all",
		Short: "Remove journals (the next put of that file starts over)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usagef(errors.New("give journal keys or files, or --all"))
			}
			store, _, err := journalStore(f, cmd)
			if err != nil {
				return err
			}
			if all {
				entries, err := store.List()
				if err != nil {
					return err
				}
				for _, e := range entries {
					args = append(args, e.Key)
				}
			}
			for _, a := range args {
				e, err := findJournal(store, a)
				if err != nil {
					return err
				}
				if err := store.Remove(e.Key); err != nil {
					return err
				}
				notef(f.IO.Err, "removed journal %s", e.Key)
			}
			return nil
		},
	}
	rm.Flags().BoolVar(&all, "all", false, "remove every journal")
	cmd.AddCommand(list, show, rm)
	return cmd
}

func journalStore(f *factory, cmd *cobra.Command) (journal.Store, config.Config, error) {
	cfg, err := f.Config(cmd)
	if err != nil {
		return journal.Store{}, cfg, err
	}
	return journal.Store{Dir: journalDir(cfg)}, cfg, nil
}

// journalDir is where journals are kept: --journal-dir, or the default.
func journalDir(cfg config.Config) string {
	if cfg.JournalDir != "" {
		return cfg.JournalDir
	}
	return journal.DefaultDir()
}

// journalDirError says that the journal directory could not be used, and
// which setting names it.
func journalDirError(cfg config.Config, dir string, err error) error {
	from := cfg.From("journal_dir")
	if cfg.JournalDir == "" {
		from = "the default"
	}
	return withHint(fmt.Errorf("the journal directory %s (%s) cannot be used: %w", dir, from, err),
		"journals and the index of uploaded files are kept there; pick a directory that can be created and written, with --journal-dir or UPLOADS_JOURNAL_DIR")
}

// findJournal finds a journal by key, key prefix or file path.
func findJournal(store journal.Store, arg string) (journal.Entry, error) {
	entries, err := store.List()
	if err != nil {
		return journal.Entry{}, err
	}
	abs, _ := filepath.Abs(arg)
	var found []journal.Entry
	for _, e := range entries {
		if strings.HasPrefix(e.Key, arg) || (e.Journal != nil && e.Journal.Fingerprint.Path == abs) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return journal.Entry{}, fmt.Errorf("no journal matches %q in %s (see 'uploads journal list')", arg, store.Dir)
	case 1:
		return found[0], nil
	}
	return journal.Entry{}, usagef(fmt.Errorf("%q matches %d journals; give a longer key", arg, len(found)))
}

// summary is the journal as `journal list --json` shows it.
func summary(e journal.Entry) json.RawMessage {
	j := e.Journal
	done, bytes := j.Acked()
	b, _ := json.Marshal(map[string]any{
		"key": e.Key, "file": j.Fingerprint.Path, "purpose": j.Fingerprint.Purpose, "upload_id": j.UploadID,
		"parts_done": done, "parts": len(j.Parts), "bytes_done": bytes, "bytes": j.Fingerprint.Size,
		"expires_at": j.ExpiresAt, "base_url": j.Fingerprint.BaseURL,
	})
	return b
}

// exactArgs requires n positional arguments, as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef(fmt.Errorf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args)))
		}
		return nil
	}
}
