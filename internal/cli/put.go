package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/uploads-dev/uploads/internal/api"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/units"
	"github.com/uploads-dev/uploads/internal/upload"
)

// PutOptions are the flags and arguments of `uploads put`.
type PutOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc
	// Args is the command line, for the resume command a hint prints.
	Args []string
	// JSON prints Upload objects on stdout instead of file ids.
	JSON bool
	// PartSizeGiven is whether --part-size was on the command line.
	PartSizeGiven bool

	Files           []string
	Purpose         string
	MimeType        string
	ExpiresAfter    int64
	Restart         bool
	Verify          bool
	CancelOnFailure bool
	Progress        string
	Quiet           bool
	Jobs            int
	Manifest        string
	// PlainInterval is how often plain progress prints a line.
	PlainInterval time.Duration
}

func newCmdPut(f *Factory) *cobra.Command {
	o := &PutOptions{IO: f.IO, Args: f.Args, PlainInterval: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "put FILE... --purpose PURPOSE",
		Short: "Upload files in parallel parts, resumably, and complete them with their MD5",
		Long: `Upload each FILE (1 byte to 8 GiB) through the Uploads API: create a session,
send the file in parts of --part-size (at most 64 MiB) with --concurrency parts in
flight, straight from disk, retrying transient failures, and complete it with the
ordered part ids and the whole file's MD5 (computed while the parts upload).

A resume journal (in $XDG_STATE_HOME/uploads, or --journal-dir) is written before
the first part and after each acknowledged part. Running the same command again
after an interruption (Ctrl-C, a crash, a lost network) resumes: acknowledged
parts are not sent again. An expired or vanished session starts over, saying so.

stdout gets the file id of each completed file (with --json, the completed Upload
object, one JSON line per file); progress goes to stderr.

Memory: about 20 MiB + --jobs × (1 MiB + --concurrency × 50 KiB), whatever the
part size (parts stream from disk; they are never held in memory).
`,
		Example: `  uploads put clip.mp4 --purpose video
  uploads put clip.mp4 --purpose video --concurrency 8 --json
  uploads put a.mp4 b.mp4 c.mp4 --purpose video --jobs 2 --progress plain
  uploads put big.mov --purpose video --verify        # resume, re-checking sent parts`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef(errors.New("put needs at least one FILE"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files, o.Ctx, o.Client = args, cmd.Context(), f.clientFor(cmd)
			o.JSON = f.JSON || (cmd.Flags().Changed("format") && cmd.Flag("format").Value.String() == "json")
			o.PartSizeGiven = cmd.Flags().Changed("part-size")
			return putRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Purpose, "purpose", "", "purpose of the files (required), e.g. video, batch, assistants")
	fl.String("part-size", "", "bytes per part, at most 64MiB (env UPLOADS_PART_SIZE; default: chosen per file so that every connection gets the same number of parts of at most 64MiB and at least 5MiB)")
	fl.Int("concurrency", defaultOf[int]("concurrency"), "parts in flight per file (env UPLOADS_CONCURRENCY)")
	addStallTimeoutFlag(cmd)
	fl.Int("retries", defaultOf[int]("retries"), "retries of a part after transient failures, counted since the last progress (env UPLOADS_RETRIES)")
	fl.String("journal-dir", "", "where resume journals live (env UPLOADS_JOURNAL_DIR; default $XDG_STATE_HOME/uploads)")
	fl.StringVar(&o.MimeType, "mime-type", "", "MIME type to declare (default: from the extension, else the content)")
	fl.Int64Var(&o.ExpiresAfter, "expires-after-seconds", 0, "make the file expire this long after it is created (3600..2592000)")
	fl.BoolVar(&o.Restart, "restart", false, "ignore an existing journal and start a new upload")
	fl.BoolVar(&o.Verify, "verify", false, "on resume, re-read acknowledged parts and re-send those that no longer match")
	fl.BoolVar(&o.CancelOnFailure, "cancel-on-failure", false, "cancel the session (and drop the journal) on failure or interruption instead of keeping it to resume")
	fl.StringVar(&o.Progress, "progress", progressAuto, "progress on stderr: auto (a bar on a terminal, plain lines otherwise), bar, plain, json (JSON lines), none")
	fl.BoolVarP(&o.Quiet, "quiet", "q", false, "print nothing but errors (same as --progress none)")
	fl.IntVar(&o.Jobs, "jobs", 1, "files uploaded at the same time")
	fl.StringVar(&o.Manifest, "manifest", "", "write a JSON Lines record per file (path, size, md5, purpose, upload_id, file_id, status, error) to this file, replaced atomically as each file ends")
	_ = cmd.MarkFlagRequired("purpose")
	_ = cmd.RegisterFlagCompletionFunc("purpose", completePurpose)
	_ = cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions(
		[]string{progressAuto, progressBar, progressPlain, progressJSON, progressNone}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func putRun(o *PutOptions) error {
	ctx := o.Ctx
	client, cfg, err := o.Client()
	if err != nil {
		return err
	}
	if o.Jobs < 1 {
		return usagef(fmt.Errorf("--jobs %d must be at least 1", o.Jobs))
	}
	if o.ExpiresAfter != 0 && (o.ExpiresAfter < 3600 || o.ExpiresAfter > 2592000) {
		return usagef(fmt.Errorf("--expires-after-seconds %d is out of range 3600..2592000", o.ExpiresAfter))
	}
	mode := o.Progress
	if o.Quiet {
		mode = progressNone
	}
	switch mode {
	case progressAuto:
		mode = progressPlain
		if o.IO.ErrTTY {
			mode = progressBar
		}
	case progressBar, progressPlain, progressJSON, progressNone:
	default:
		return usagef(fmt.Errorf("--progress %q: expected auto, bar, plain, json or none", o.Progress))
	}
	dir := cfg.JournalDir
	if dir == "" {
		dir = journal.DefaultDir()
	}
	opts := upload.Options{
		Purpose: o.Purpose, PartSize: int64(cfg.PartSize), Concurrency: cfg.Concurrency, ExpiresAfter: o.ExpiresAfter,
		MimeType: o.MimeType, Retry: retry.Policy{Retries: cfg.Retries, Base: retry.Default.Base, Max: retry.Default.Max},
		Journal: &journal.Store{Dir: dir}, Restart: o.Restart, Verify: o.Verify, CancelOnFailure: o.CancelOnFailure,
	}
	var total int64
	for _, file := range o.Files {
		if fi, err := os.Stat(file); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	prog := newPrinter(mode, o.IO, o.PlainInterval, len(o.Files), total)
	defer prog.close()
	opts.Report = prog.report
	if err := opts.Check(); err != nil {
		return usagef(fmt.Errorf("%w (part size from --part-size, UPLOADS_PART_SIZE or the config file: %s)", err, units.FormatSize(int64(cfg.PartSize))))
	}
	if cfg.PartSize == 0 && o.PartSizeGiven {
		return usagef(errors.New("--part-size 0: give a size from 1 byte to 64MiB, or leave it out to have one chosen per file"))
	}
	up := &upload.Uploader{Client: client, Opts: opts}

	man := newManifest(o.Manifest, len(o.Files))
	if err := man.check(); err != nil {
		return err
	}
	out := &putOutput{exp: o.IO.export(cfg), prog: prog, json: o.JSON, several: len(o.Files) > 1, results: make([]*upload.Result, len(o.Files)), ended: make([]bool, len(o.Files))}
	var (
		mu         sync.Mutex
		failures   []error
		done       int
		notStarted int
		sentBytes  int64
		retries    int
		began      = time.Now()
		interrupts int
	)
	g := errgroup.Group{}
	g.SetLimit(o.Jobs)
	for i, file := range o.Files {
		g.Go(func() error {
			if ctx.Err() != nil {
				// Stopped before this file began: not a failure of its own.
				mu.Lock()
				notStarted++
				mu.Unlock()
				if err := man.ended(i, file, o.Purpose, nil, nil, false); err != nil {
					return err
				}
				return out.skip(i)
			}
			res, err := up.Put(ctx, file)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				interrupted := api.Classify(ctx, err) == api.Canceled
				if interrupted {
					interrupts++
				}
				resume := ""
				var fe *upload.FailedError
				if errors.As(err, &fe) && fe.Kept {
					resume = resumeCommand(without(o.Args, out.completed()))
				}
				explained := explainPutFailure(ctx, o.Args, err)
				prog.failed(ctx, fileFailure{File: file, Err: explained, Interrupted: interrupted, Several: len(o.Files) > 1,
					Code: exitCode(ctx, explained), Resume: resume})
				if err := man.ended(i, file, o.Purpose, nil, err, interrupted); err != nil {
					return err
				}
				return out.skip(i)
			}
			done++
			sentBytes += res.BytesSent
			retries += res.Retries
			if err := man.ended(i, file, o.Purpose, res, nil, false); err != nil {
				return err
			}
			return out.add(i, res)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(o.Files) > 1 {
		prog.summary(runSummary{Files: len(o.Files), Completed: done, Failed: len(failures) - interrupts, Interrupted: interrupts,
			NotStarted: notStarted, Retries: retries, Sent: sentBytes, Took: time.Since(began)})
	}
	prog.close()
	if len(failures) == 0 && notStarted == 0 {
		return nil
	}
	switch {
	case len(o.Files) == 1:
		err = explainPutFailure(ctx, o.Args, failures[0])
	case ctx.Err() != nil:
		// One resume command for the whole set: the same command line.
		err = withHint(interruptedf("interrupted: %d of %d files uploaded; %d interrupted (their journals kept), %d not started",
			done, len(o.Files), interrupts, notStarted), "resume the rest with: %s", resumeCommand(without(o.Args, out.completed())))
	default:
		err = exitError{code: exitCode(ctx, failures[0]), err: fmt.Errorf("%d of %d files failed", len(failures), len(o.Files))}
	}
	if mode == progressJSON {
		// Every failure is an event already: stderr stays JSON lines.
		return reportedError{code: exitCode(ctx, err), err: err}
	}
	return err
}

// putOutput prints the results in the order of the arguments, each as soon
// as those before it have ended: one file prints its id (or its Upload with
// --json); several print "FILE_ID<TAB>PATH" lines (or Uploads with
// "local_path" added).
type putOutput struct {
	exp     exporter
	prog    printer // stdout's lines go above the live view
	json    bool
	several bool

	mu      sync.Mutex
	results []*upload.Result
	ended   []bool
	next    int
}

func (o *putOutput) add(i int, res *upload.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.results[i], o.ended[i] = res, true
	return o.flush()
}

// skip marks file i as ended without a result (failed, or not started).
func (o *putOutput) skip(i int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended[i] = true
	return o.flush()
}

func (o *putOutput) flush() error {
	return o.prog.above(o.write)
}

func (o *putOutput) write() error {
	for ; o.next < len(o.ended) && o.ended[o.next]; o.next++ {
		res := o.results[o.next]
		if res == nil {
			continue
		}
		var err error
		switch {
		case o.json && o.several:
			err = o.exp.line(withLocalPath(res.Upload, res.File))
		case o.json:
			err = o.exp.line(res.Upload)
		case o.several:
			_, err = fmt.Fprintf(o.exp.w, "%s\t%s\n", res.FileID, res.File)
		default:
			_, err = fmt.Fprintln(o.exp.w, res.FileID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// completed lists the files that completed, as given.
func (o *putOutput) completed() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var files []string
	for _, r := range o.results {
		if r != nil {
			files = append(files, r.File)
		}
	}
	return files
}

// without is args less the arguments in drop (the files already uploaded).
func without(args, drop []string) []string {
	var out []string
	for _, a := range args {
		if !slices.Contains(drop, a) {
			out = append(out, a)
		}
	}
	return out
}

// withLocalPath adds "local_path" to an Upload object.
func withLocalPath(raw json.RawMessage, path string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return raw
	}
	m["local_path"], _ = json.Marshal(path)
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// explainPutFailure adds what happened to the session and how to go on.
func explainPutFailure(ctx context.Context, args []string, err error) error {
	if journal.IsLocked(err) {
		return withHint(err, "wait for it to finish, or stop it (Ctrl-C keeps its journal) and run this command again to resume")
	}
	if apiCode(err) == "unsupported_mime_type" {
		return withHint(err, "the MIME type was detected from the file's extension, else its content; pass --mime-type with one of the types the purpose allows if the detection is wrong")
	}
	var fe *upload.FailedError
	if !errors.As(err, &fe) {
		return err
	}
	interrupted := api.Classify(ctx, err) == api.Canceled
	var ce *upload.ChangedError
	switch {
	case errors.As(err, &ce):
		return withHint(err, "upload %s was cancelled; run the command again, once the file is no longer being written, to upload it as it is then", fe.UploadID)
	case fe.Kept && interrupted:
		return withHint(interruptedf("interrupted: %d of %d parts of %s are on the server (upload %s; journal %s)",
			fe.PartsDone, fe.Parts, fe.File, fe.UploadID, fe.Journal), "resume with: %s", resumeCommand(args))
	case fe.Kept:
		return withHint(err, "%d of %d parts are on the server (upload %s); fix the cause and resume with: %s",
			fe.PartsDone, fe.Parts, fe.UploadID, resumeCommand(args))
	case interrupted:
		return interruptedf("interrupted; upload %s was cancelled", fe.UploadID)
	}
	return err
}

// secretFlags take a value that must never be printed: a resume command
// leaves them out (and says where the secret comes from instead).
var secretFlags = []string{"--api-key"}

// resumeCommand is the command line that was run, quoted for a shell, less
// --restart and less every secret flag with its value. When a secret flag
// was left out it says to keep the same secret in the environment.
func resumeCommand(args []string) string {
	q := []string{"uploads"}
	secret := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			q = append(q, args[i:]...)
			break
		}
		if a == "--restart" || strings.HasPrefix(a, "--restart=") {
			continue // resuming must not start over
		}
		if isSecretFlag(a) {
			secret = true
			if !strings.Contains(a, "=") && i+1 < len(args) {
				i++ // the value is the next argument
			}
			continue
		}
		q = append(q, shellQuote(a))
	}
	cmd := strings.Join(q, " ")
	if secret {
		cmd += " (with the same API key in OPENAI_API_KEY or the config file; --api-key was left out so that it is not printed)"
	}
	return cmd
}

// isSecretFlag reports whether arg is a secret flag, alone or as flag=value.
func isSecretFlag(arg string) bool {
	name, _, _ := strings.Cut(arg, "=")
	return slices.Contains(secretFlags, name)
}

func shellQuote(a string) string {
	if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return a
}
