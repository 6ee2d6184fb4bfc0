package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/check"
	"github.com/uploads-dev/uploads/internal/config"
	"github.com/uploads-dev/uploads/internal/fileset"
	"github.com/uploads-dev/uploads/internal/journal"
	"github.com/uploads-dev/uploads/internal/mimetype"
	"github.com/uploads-dev/uploads/internal/retry"
	"github.com/uploads-dev/uploads/internal/runjournal"
	"github.com/uploads-dev/uploads/internal/seen"
	"github.com/uploads-dev/uploads/internal/units"
	"github.com/uploads-dev/uploads/internal/upload"
)

// putOptions are the flags and arguments of `uploads put`.
type putOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc
	Config func() (config.Config, error)
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
	// Pipelines (issue 11).
	Recursive      bool
	Include        []string
	Exclude        []string
	FollowSymlinks bool
	FailOnSkip     bool
	DryRun         bool
	NoCheck        bool
	SkipExisting   bool
	LimitRate      units.Size
	Wait           bool
	WaitTimeout    time.Duration
	// Standard input (FILE "-").
	Size     units.Size
	Filename string
	// PlainInterval is how often plain progress prints a line.
	PlainInterval time.Duration
}

func newCmdPut(f *factory) *cobra.Command {
	o := &putOptions{IO: f.IO, Args: f.Args, PlainInterval: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "put FILE|DIR|-... --purpose PURPOSE",
		Short: "Upload files in parallel parts, resumably, and complete them with their MD5",
		Long: `Upload each FILE (up to 8 GiB) in parallel parts of at most 64 MiB, straight
from disk, with retries, and complete it with the parts in order and its MD5.

Interrupted (Ctrl-C, SIGKILL, a lost network)? Run the same command again:
parts and files already on the server are not sent again. A DIR needs
--recursive; the whole set is checked before the first request. "-" reads
standard input.

stdout: the file id of each file (several: FILE_ID<TAB>PATH, in the order
given; --json: the Upload). Progress and errors go to stderr.

More: docs/put.md (resume, reruns, checks, memory, every flag in detail).
`,
		Example: `  uploads put clip.mp4 --purpose video
  uploads put clip.mp4 --purpose video --concurrency 8 --json
  uploads put a.mp4 b.mp4 c.mp4 --purpose video --jobs 2 --progress plain
  uploads put big.mov --purpose video --verify        # resume, re-checking sent parts
  uploads put data/ --recursive --include '*.jsonl' --purpose batch --dry-run
  uploads put data/ -r --purpose fine-tune --skip-existing --manifest uploaded.jsonl --progress plain
  uploads put train.jsonl --purpose fine-tune --limit-rate 20MiB --wait
  gunzip -c notes.txt.gz | uploads put - --size 123456 --filename notes.txt --purpose assistants`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef(errors.New("put needs at least one FILE"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files, o.Ctx, o.Client = args, cmd.Context(), f.clientFor(cmd)
			o.Config = func() (config.Config, error) { return f.Config(cmd) }
			o.JSON = f.jsonAsked(cmd)
			o.PartSizeGiven = cmd.Flags().Changed("part-size")
			return putRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Purpose, "purpose", "", "what the files are for, e.g. video (required)")
	fl.String("part-size", "", "bytes per part, up to 64MiB (default: per file)")
	fl.Int("concurrency", defaultOf[int]("concurrency"), "parts in flight, across files")
	fl.String("min-part-size", "", "the provider's smallest part, e.g. 5MiB")
	addStallTimeoutFlag(cmd)
	fl.Int("retries", defaultOf[int]("retries"), "retries of a part in a row")
	addJournalDirFlag(cmd)
	fl.StringVar(&o.MimeType, "mime-type", "", "MIME type (default: from the name or content)")
	fl.Int64Var(&o.ExpiresAfter, "expires-after-seconds", 0, "expire the files after N s (3600..2592000)")
	fl.BoolVar(&o.Restart, "restart", false, "ignore the journals; upload everything again")
	fl.BoolVar(&o.Verify, "verify", false, "on resume, re-check the parts already sent")
	fl.BoolVar(&o.CancelOnFailure, "cancel-on-failure", false, "on failure or Ctrl-C, cancel; keep no resume")
	fl.StringVar(&o.Progress, "progress", progressAuto, "auto, bar, plain, json or none")
	fl.BoolVarP(&o.Quiet, "quiet", "q", false, "print only errors (--progress none)")
	fl.IntVar(&o.Jobs, "jobs", 0, "files in flight (default: --concurrency)")
	fl.StringVar(&o.Manifest, "manifest", "", "write a JSON Lines record per file to FILE")
	fl.BoolVarP(&o.Recursive, "recursive", "r", false, "upload the files under each DIR")
	fl.StringArrayVar(&o.Include, "include", nil, "with -r, only files matching GLOB (repeatable)")
	fl.StringArrayVar(&o.Exclude, "exclude", nil, "with -r, skip what GLOB matches (repeatable)")
	fl.BoolVar(&o.FollowSymlinks, "follow-symlinks", false, "follow symlinks met under a DIR")
	fl.BoolVar(&o.FailOnSkip, "fail-on-skip", false, "fail before sending if a file would be skipped")
	fl.BoolVar(&o.DryRun, "dry-run", false, "list the files and run the checks; send nothing")
	fl.BoolVar(&o.NoCheck, "no-check", false, "send files the checks would refuse")
	fl.BoolVar(&o.SkipExisting, "skip-existing", false, "skip content uploaded before; print its id")
	fl.Var(&o.LimitRate, "limit-rate", "at most RATE bytes/s in all, e.g. 10MiB")
	fl.Var(&o.Size, "size", "with -, the bytes stdin holds (required)")
	fl.StringVar(&o.Filename, "filename", "", "with -, the file's name (required)")
	fl.BoolVar(&o.Wait, "wait", false, "wait until each file is processed")
	fl.DurationVar(&o.WaitTimeout, "wait-timeout", 30*time.Minute, "how long --wait waits per file")
	_ = cmd.MarkFlagRequired("purpose")
	_ = cmd.RegisterFlagCompletionFunc("purpose", completePurpose)
	_ = cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions(
		[]string{progressAuto, progressBar, progressPlain, progressJSON, progressNone}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func putRun(o *putOptions) (err error) {
	ctx := o.Ctx
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	if err := o.checkFlags(); err != nil {
		return err
	}
	mode, err := o.progressMode()
	if err != nil {
		return err
	}
	if mode == progressJSON {
		// In JSON mode stderr carries only events: an error before the
		// files start is a "failed" event too.
		defer func() {
			if err != nil && !errors.As(err, new(reportedError)) && !errors.As(err, new(usageError)) {
				code := exitCode(ctx, err)
				(&jsonPrinter{w: o.IO.Err}).failed(ctx, fileFailure{Err: err, Code: code})
				err = reportedError{code: code, err: err}
			}
		}()
	}
	dir := journalDir(cfg)
	opts, err := o.engineOptions(cfg, dir)
	if err != nil {
		return err
	}

	if len(o.Files) == 1 && o.Files[0] == "-" {
		return putStdin(o, cfg, opts, mode)
	}
	if slices.Contains(o.Files, "-") {
		return usagef(errors.New("- (standard input) must be the only FILE"))
	}
	if o.Size != 0 || o.Filename != "" {
		return usagef(errors.New("--size and --filename go with FILE - (standard input)"))
	}

	// The whole set is listed, and checked as far as names and sizes go,
	// before the first request.
	files, skipped, err := planPut(o, opts)
	if err != nil {
		return err
	}
	for _, sk := range skipped {
		if mode == progressJSON {
			(&jsonPrinter{w: o.IO.Err}).report(upload.Event{Type: upload.EventWarning, File: sk.Path, Message: "skipped: " + sk.Reason})
		} else {
			warnf(o.IO.Err, "%s: skipped: %s", sk.Path, sk.Reason)
		}
	}
	switch {
	case len(skipped) > 0 && o.FailOnSkip:
		return exitError{code: ExitFailure, err: fmt.Errorf("%d file(s) would be skipped (--fail-on-skip); nothing was sent", len(skipped))}
	case len(files) == 0 && len(o.Include)+len(o.Exclude) > 0:
		return exitError{code: ExitFailure, err: errors.New("nothing to upload: no file left after the skips and the --include/--exclude patterns")}
	case len(files) == 0:
		return exitError{code: ExitFailure, err: errors.New("nothing to upload: the directories hold no file that can be uploaded")}
	}
	var index *seen.Index
	if o.SkipExisting || !o.DryRun {
		if index, err = seen.Open(dir); err != nil {
			return journalDirError(cfg, dir, err)
		}
		defer func() {
			for _, w := range index.Warnings() {
				warnf(o.IO.Err, "%v", w)
			}
		}()
	}
	if o.DryRun {
		return putDryRun(o, cfg, files, index)
	}

	return putFiles(o, cfg, opts, mode, dir, files, skipped, index)
}

// checkFlags refuses flags that do not go together, before anything is read.
func (o *putOptions) checkFlags() error {
	switch {
	case o.Jobs < 0:
		return usagef(fmt.Errorf("--jobs %d must be at least 1 (or 0, its default: as many files as --concurrency)", o.Jobs))
	case o.ExpiresAfter != 0 && (o.ExpiresAfter < 3600 || o.ExpiresAfter > 2592000):
		return usagef(fmt.Errorf("--expires-after-seconds %d is out of range 3600..2592000", o.ExpiresAfter))
	case o.LimitRate < 0:
		return usagef(fmt.Errorf("--limit-rate %d: give a rate in bytes per second, such as 10MiB", o.LimitRate))
	case (len(o.Include) > 0 || len(o.Exclude) > 0) && !o.Recursive:
		return usagef(errors.New("--include and --exclude select files under directories: add --recursive"))
	}
	return nil
}

// progressMode is the progress printer --progress (and --quiet) ask for;
// auto is a bar on a terminal, plain lines otherwise.
func (o *putOptions) progressMode() (string, error) {
	mode := o.Progress
	if o.Quiet {
		mode = progressNone
	}
	switch mode {
	case progressAuto:
		if o.IO.ErrTTY {
			return progressBar, nil
		}
		return progressPlain, nil
	case progressBar, progressPlain, progressJSON, progressNone:
		return mode, nil
	}
	return "", usagef(fmt.Errorf("--progress %q: expected auto, bar, plain, json or none", o.Progress))
}

// engineOptions are the engine's options from the settings and flags.
func (o *putOptions) engineOptions(cfg config.Config, dir string) (upload.Options, error) {
	opts := upload.Options{
		Purpose: o.Purpose, PartSize: int64(cfg.PartSize), Concurrency: cfg.Concurrency, ExpiresAfter: o.ExpiresAfter,
		MimeType: o.MimeType, Retry: retry.Policy{Retries: cfg.Retries, Base: retry.Default.Base, Max: retry.Default.Max},
		Journal: &journal.Store{Dir: dir}, Restart: o.Restart, Verify: o.Verify, CancelOnFailure: o.CancelOnFailure,
		MinPartSize: int64(cfg.MinPartSize),
	}
	if err := opts.Check(); err != nil {
		return opts, usagef(fmt.Errorf("%w (part size from --part-size, UPLOADS_PART_SIZE or the config file: %s)", err, units.FormatSize(int64(cfg.PartSize))))
	}
	if cfg.PartSize == 0 && o.PartSizeGiven {
		return opts, usagef(errors.New("--part-size 0: give a size from 1 byte to 64MiB, or leave it out to have one chosen per file"))
	}
	return opts, nil
}

// putFiles uploads the planned files with the engine's runner and renders
// what becomes of each: stdout in the order of the arguments, the manifest,
// the progress, the summary and the exit.
func putFiles(o *putOptions, cfg config.Config, opts upload.Options, mode, dir string, files []*putFile, skipped []fileset.Skipped, index *seen.Index) error {
	ctx := o.Ctx
	client, _, err := o.Client()
	if err != nil {
		return err
	}
	if o.LimitRate > 0 {
		opts.Limiter = upload.NewLimiter(int64(o.LimitRate))
		if mode == progressPlain || mode == progressBar {
			notef(o.IO.Err, "sending at most %s/s (--limit-rate)", units.FormatSize(int64(o.LimitRate)))
		}
	}
	// The journal of this run: files an interrupted attempt of the same
	// command completed are not sent again.
	run, restored, err := openRun(o, client.BaseURL(), dir, files)
	if err != nil {
		return err
	}
	defer run.Close()
	// The progress counts what this attempt sends.
	var total int64
	var toSend []string
	planned := make([]upload.Planned, len(files))
	for i, pf := range files {
		planned[i] = upload.Planned{Path: pf.Path, Size: pf.Size, MimeType: pf.MimeType, Refused: pf.problem}
		if restored[i] == nil {
			total += pf.Size
			toSend = append(toSend, pf.Path)
		}
	}
	if n := len(files) - len(toSend); n > 0 {
		msg := fmt.Sprintf("%d of %d files are on the server from an earlier attempt of this command: not sent again (--restart sends everything)", n, len(files))
		if mode == progressJSON {
			(&jsonPrinter{w: o.IO.Err}).report(upload.Event{Type: upload.EventWarning, Message: msg})
		} else if mode != progressNone {
			notef(o.IO.Err, "%s", msg)
		}
	}
	prog := newPrinter(mode, o.IO, o.PlainInterval, toSend, total)
	defer prog.close()
	opts.Report = prog.report
	up := &upload.Uploader{Client: client, Opts: opts}

	man := newManifest(o.Manifest, len(files))
	for _, sk := range skipped {
		man.ignore(sk.Path, o.Purpose, sk.Reason)
	}
	if err := man.check(); err != nil {
		return err
	}
	// Several files (or arguments) print a line per file, a summary, and
	// each file's error as it happens.
	several := len(o.Files) > 1 || len(files) > 1
	out := &putOutput{exp: o.IO.export(cfg), prog: prog, json: o.JSON, several: several,
		results: make([]*putResult, len(files)), ended: make([]bool, len(files))}
	r := &putRender{o: o, files: files, prog: prog, man: man, out: out, several: several}
	batch := upload.Batch{Jobs: o.Jobs, Check: !o.NoCheck, Index: index, SkipExisting: o.SkipExisting,
		Wait: o.Wait, WaitTimeout: o.WaitTimeout, Run: run, Restored: restored}
	sum, err := up.RunBatch(ctx, planned, batch, r.ended)
	failures := r.failures
	if ferr := man.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if several {
		prog.summary(runSummary{Files: sum.Files, Completed: sum.Completed, Skipped: sum.Skipped, Failed: sum.Failed, Interrupted: sum.Interrupted,
			NotStarted: sum.NotStarted, Ignored: len(skipped), Retries: sum.Retries, Sent: sum.Sent, Took: sum.Took})
	}
	prog.close()
	if len(failures) == 0 && sum.NotStarted == 0 {
		if err := run.Finish(); err != nil {
			warnf(o.IO.Err, "remove the journal of this run: %v", err)
		}
		return nil
	}
	switch {
	case len(files) == 1:
		err = explainPutFailure(ctx, o.Args, failures[0])
	case ctx.Err() != nil: // interrupted: some files may not have started
		// One resume command for the whole set: the same command line.
		err = withHint(interruptedf("interrupted: %d of %d files uploaded; %d interrupted (their journals kept), %d not started",
			sum.Completed+sum.Skipped, len(files), sum.Interrupted, sum.NotStarted),
			"resume the rest with the same command (files already uploaded are not sent again): %s", resumeCommand(o.Args))
	default:
		err = exitError{code: exitCode(ctx, failures[0]), err: fmt.Errorf("%d of %d files failed", len(failures), len(files))}
	}
	if mode == progressJSON {
		// Every failure is an event already: stderr stays JSON lines.
		return reportedError{code: exitCode(ctx, err), err: err}
	}
	return err
}

// putRender renders what becomes of each file of a run: the progress
// printer, the manifest and stdout. The runner calls ended one outcome at a
// time.
type putRender struct {
	o        *putOptions
	files    []*putFile
	prog     printer
	man      *manifest
	out      *putOutput
	several  bool
	failures []error
}

func (r *putRender) ended(oc upload.Outcome) error {
	ctx, pf := r.o.Ctx, r.files[oc.Index]
	switch {
	case oc.NotStarted:
		if err := r.man.ended(oc.Index, pf.Path, r.o.Purpose, nil, nil, false); err != nil {
			return err
		}
		return r.out.skip(oc.Index)
	case oc.Err != nil:
		err := oc.Err
		var re *upload.RefusedError
		if errors.As(err, &re) {
			err = checkFailure{re.Err}
		}
		r.failures = append(r.failures, err)
		resume := ""
		var fe *upload.FailedError
		if errors.As(err, &fe) && fe.Kept {
			resume = resumeCommand(r.o.Args)
		}
		explained := explainPutFailure(ctx, r.o.Args, err)
		r.prog.failed(ctx, fileFailure{File: pf.Path, Size: pf.Size, Err: explained, Interrupted: oc.Interrupted, Several: r.several,
			Code: exitCode(ctx, explained), Resume: resume})
		if err := r.man.ended(oc.Index, pf.Path, r.o.Purpose, nil, err, oc.Interrupted); err != nil {
			return err
		}
		return r.out.skip(oc.Index)
	case oc.Existing != nil:
		pf.MD5 = oc.Existing.MD5
		res := &putResult{FileID: oc.Existing.FileID, Path: pf.Path, JSON: oc.Existing.File, Skipped: true}
		if err := r.man.skipped(oc.Index, pf, res); err != nil {
			return err
		}
		return r.out.add(oc.Index, res)
	}
	if err := r.man.ended(oc.Index, pf.Path, r.o.Purpose, oc.Result, nil, false); err != nil {
		return err
	}
	return r.out.add(oc.Index, &putResult{FileID: oc.Result.FileID, Path: pf.Path, JSON: oc.Result.Upload})
}

// putStdin streams standard input into an upload (upload.PutStream): the
// size and the name must be given; each part is spooled to a temporary
// file until it is acknowledged; nothing can be resumed.
func putStdin(o *putOptions, cfg config.Config, opts upload.Options, mode string) error {
	switch {
	case o.Size <= 0 || o.Filename == "":
		return usagef(errors.New("put - reads standard input: give its size with --size and the file's name with --filename"))
	case o.Recursive || o.DryRun || o.SkipExisting:
		return usagef(errors.New("--recursive, --dry-run and --skip-existing need files: standard input can be read only once"))
	}
	if !o.NoCheck {
		mt := o.MimeType
		if mt == "" {
			mt = mimetype.FromName(o.Filename)
		}
		if err := check.Before(o.Purpose, o.Filename, int64(o.Size), mt); err != nil {
			return checkFailure{err}
		}
	}
	client, _, err := o.Client()
	if err != nil {
		return err
	}
	if o.LimitRate > 0 {
		opts.Limiter = upload.NewLimiter(int64(o.LimitRate))
	}
	prog := newPrinter(mode, o.IO, o.PlainInterval, []string{"-"}, int64(o.Size))
	defer prog.close()
	opts.Report = prog.report
	up := &upload.Uploader{Client: client, Opts: opts}
	res, err := up.PutStream(o.Ctx, o.IO.In, int64(o.Size), o.Filename)
	prog.close()
	if err != nil {
		if errors.As(err, new(*upload.SizeMismatchError)) {
			err = usageError{err: err, config: true}
		}
		if apiCode(err) == "unsupported_mime_type" && o.MimeType == "" {
			err = withHint(err, "standard input's MIME type was taken from --filename %q; pass --mime-type with one of the types the purpose allows", o.Filename)
		}
		if mode == progressJSON {
			code := exitCode(o.Ctx, err)
			prog.failed(o.Ctx, fileFailure{File: "-", Err: err, Code: code})
			return reportedError{code: code, err: err}
		}
		if interrupted(o.Ctx, err) {
			return interruptedf("%v", err)
		}
		return err
	}
	if o.Wait {
		if _, err := client.WaitProcessed(o.Ctx, res.FileID, o.WaitTimeout, nil); err != nil {
			return fmt.Errorf("standard input was uploaded as %s, but: %w", res.FileID, err)
		}
	}
	man := newManifest(o.Manifest, 1)
	if err := man.ended(0, "-", o.Purpose, res, nil, false); err != nil {
		return err
	}
	if o.JSON {
		return o.IO.export(cfg).line(res.Upload)
	}
	_, err = fmt.Fprintln(o.IO.Out, res.FileID)
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
	results []*putResult
	ended   []bool
	next    int
}

// putResult is a file that is on the server: uploaded now, or (Skipped)
// before.
type putResult struct {
	FileID, Path string
	// JSON is the completed Upload object, or the File object of a skipped
	// file.
	JSON    json.RawMessage
	Skipped bool
}

func (o *putOutput) add(i int, res *putResult) error {
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
		o.results[o.next] = nil // printed: not held for the rest of the run
		var err error
		switch {
		case o.json && (o.several || res.Skipped):
			err = o.exp.line(withFields(res.JSON, res.Path, res.Skipped))
		case o.json:
			err = o.exp.line(res.JSON)
		case o.several:
			_, err = fmt.Fprintf(o.exp.w, "%s\t%s\n", res.FileID, res.Path)
		default:
			_, err = fmt.Fprintln(o.exp.w, res.FileID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// withFields adds "local_path" (and "skipped": true for a file uploaded
// before) to an API object.
func withFields(raw json.RawMessage, path string, skipped bool) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return raw
	}
	m["local_path"], _ = json.Marshal(path)
	if skipped {
		m["skipped"] = json.RawMessage("true")
	}
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
	var cf checkFailure
	if errors.As(err, &cf) {
		return withHint(err, "%s", cf.hint())
	}
	if apiCode(err) == "unsupported_mime_type" {
		return withHint(err, "the MIME type was detected from the file's extension, else its content; pass --mime-type with one of the types the purpose allows if the detection is wrong")
	}
	var fe *upload.FailedError
	if !errors.As(err, &fe) {
		return err
	}
	stopped := interrupted(ctx, err)
	var ce *upload.ChangedError
	switch {
	case errors.As(err, &ce):
		return withHint(err, "upload %s was cancelled; run the command again, once the file is no longer being written, to upload it as it is then", fe.UploadID)
	case fe.Kept && stopped:
		return withHint(interruptedf("interrupted: %d of %d parts of %s are on the server (upload %s; journal %s)",
			fe.PartsDone, fe.Parts, fe.File, fe.UploadID, fe.Journal), "resume with: %s", resumeCommand(args))
	case fe.Kept:
		return withHint(err, "%d of %d parts are on the server (upload %s); fix the cause and resume with: %s",
			fe.PartsDone, fe.Parts, fe.UploadID, resumeCommand(args))
	case stopped:
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

// openRun opens the journal of this run (the command: the server, the
// purpose, what is asked of the files and what selects them) and returns, by file, what an
// earlier attempt of the same command completed and is unchanged since.
// --restart forgets it.
func openRun(o *putOptions, baseURL, dir string, files []*putFile) (*runjournal.Run, []*runjournal.Record, error) {
	k := runjournal.Key{BaseURL: baseURL, Purpose: o.Purpose, MimeType: o.MimeType, ExpiresAfter: o.ExpiresAfter}
	k.Select = append(k.Select, fmt.Sprintf("recursive=%t follow=%t", o.Recursive, o.FollowSymlinks))
	for _, p := range o.Include {
		k.Select = append(k.Select, "+"+p)
	}
	for _, p := range o.Exclude {
		k.Select = append(k.Select, "-"+p)
	}
	for _, a := range o.Files {
		abs, err := filepath.Abs(a)
		if err != nil {
			return nil, nil, err
		}
		k.Args = append(k.Args, abs)
	}
	run, err := runjournal.Open(dir, k)
	if err != nil {
		warnf(o.IO.Err, "%v", err)
	}
	restored := make([]*runjournal.Record, len(files))
	if o.Restart {
		return run, restored, run.Finish()
	}
	if run.Len() == 0 {
		return run, restored, nil
	}
	for i, pf := range files {
		abs, err := filepath.Abs(pf.Path)
		if err != nil {
			continue
		}
		st, err := os.Stat(abs)
		if err != nil {
			continue
		}
		if rec, ok := run.Done(abs, st.Size(), st.ModTime().UnixNano()); ok {
			restored[i] = &rec
		}
	}
	return run, restored, nil
}
