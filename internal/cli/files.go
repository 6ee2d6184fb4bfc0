package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/api"
)

// newCmdFiles builds `uploads files` and its commands.
func newCmdFiles(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "files",
		Short: "List, show, download and delete files",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	cmd.AddCommand(newCmdFilesList(f), newCmdFilesGet(f), newCmdFilesContent(f), newCmdFilesDelete(f))
	return cmd
}

// filesListOptions are the flags of `uploads files list`.
type filesListOptions struct {
	IO      IOStreams
	Ctx     context.Context
	Client  clientFunc
	Purpose string
	Limit   int // 0: all
}

// newCmdFilesList builds `uploads files list`.
func newCmdFilesList(f *factory) *cobra.Command {
	o := &filesListOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List files, newest first",
		Long: `List files, newest first, following the API's pages, and print
{"object":"list","data":[FILE...]}.

Text output (--format text) is a table: id, bytes, created, filename, purpose.`,
		Example: `  uploads files list --purpose batch --limit 20
  uploads files list --format text`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Limit < 0 {
				return usagef(fmt.Errorf("--limit %d must not be negative (0 lists every file)", o.Limit))
			}
			o.Ctx, o.Client = cmd.Context(), f.clientFor(cmd)
			return filesListRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Purpose, "purpose", "", "only files with this purpose")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "at most this many files (default: all)")
	addRetriesFlag(cmd, true)
	_ = cmd.RegisterFlagCompletionFunc("purpose", completePurpose)
	return cmd
}

func filesListRun(o *filesListOptions) error {
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	files, err := c.ListFiles(o.Ctx, o.Purpose, o.Limit)
	if err != nil {
		return err
	}
	data := make([]json.RawMessage, len(files))
	for i := range files {
		data[i] = api.RawJSON(files[i])
	}
	raw, err := json.Marshal(struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}{"list", data})
	if err != nil {
		return err
	}
	return o.IO.export(cfg).object(raw, func() string { return fileTable(files) })
}

func fileTable(files []openai.FileObject) string {
	return table([]string{"ID", "BYTES", "CREATED", "FILENAME", "PURPOSE"}, len(files), func(i int) []any {
		f := files[i]
		return []any{f.ID, f.Bytes, unixTime(f.CreatedAt), f.Filename, f.Purpose}
	})
}

// fileOptions are the argument of `uploads files get` and `files delete`.
type fileOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc
	FileID string
}

// newCmdFilesGet builds `uploads files get`.
func newCmdFilesGet(f *factory) *cobra.Command {
	o := &fileOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "get FILE_ID",
		Short: "Show a file object",
		Long: `Print a file object.

Text output (--format text) is a one-row table: id, bytes, created, filename, purpose.`,
		Example: `  uploads files get file-abc123`,
		Args:    positional(1, "FILE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.FileID, o.Ctx, o.Client = args[0], cmd.Context(), f.clientFor(cmd)
			return filesGetRun(o)
		},
	}
	addRetriesFlag(cmd, true)
	return cmd
}

func filesGetRun(o *fileOptions) error {
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	file, err := c.GetFile(o.Ctx, o.FileID)
	if err != nil {
		return err
	}
	return o.IO.export(cfg).object(api.RawJSON(file), func() string { return fileTable([]openai.FileObject{*file}) })
}

// newCmdFilesDelete builds `uploads files delete`.
func newCmdFilesDelete(f *factory) *cobra.Command {
	o := &fileOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "delete FILE_ID",
		Short: "Delete a file",
		Long: `Delete a file and print {"id":…,"object":"file","deleted":true}.

Text output (--format text) is the file id and "deleted".`,
		Example: `  uploads files delete file-abc123`,
		Args:    positional(1, "FILE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.FileID, o.Ctx, o.Client = args[0], cmd.Context(), f.clientFor(cmd)
			return filesDeleteRun(o)
		},
	}
	addRetriesFlag(cmd, true)
	return cmd
}

func filesDeleteRun(o *fileOptions) error {
	c, cfg, err := o.Client()
	if err != nil {
		return err
	}
	d, err := c.DeleteFile(o.Ctx, o.FileID)
	if err != nil {
		return err
	}
	return o.IO.export(cfg).object(api.RawJSON(d), func() string { return d.ID + " deleted" })
}

// filesContentOptions are the argument and flags of `uploads files content`.
type filesContentOptions struct {
	IO     IOStreams
	Ctx    context.Context
	Client clientFunc
	FileID string
	// Output is the path to write ("" or "-": stdout).
	Output string
	// Force writes binary content to a terminal.
	Force bool
}

// newCmdFilesContent builds `uploads files content`.
func newCmdFilesContent(f *factory) *cobra.Command {
	o := &filesContentOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "content FILE_ID [-o PATH]",
		Short: "Download a file's bytes to PATH or stdout",
		Long: `Stream a file's bytes to stdout, or with -o to PATH.

With -o, the bytes go to a temporary file in PATH's directory that is renamed
to PATH once complete, so PATH is never left half-written. On stdout, content
that looks binary is refused when stdout is a terminal (redirect it, use -o,
or pass --force); text is written as is.`,
		Example: `  uploads files content file-abc123 -o clip.mp4
  uploads files content file-abc123 | head`,
		Args: positional(1, "FILE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.FileID, o.Ctx, o.Client = args[0], cmd.Context(), f.clientFor(cmd)
			return filesContentRun(o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "write to this path instead of stdout")
	cmd.Flags().BoolVar(&o.Force, "force", false, "write binary content to stdout even when it is a terminal")
	addRetriesFlag(cmd, true)
	return cmd
}

// errBinaryToTerminal refuses to garble a terminal.
var errBinaryToTerminal = errors.New("refusing to write binary content to a terminal")

func filesContentRun(o *filesContentOptions) error {
	toFile := o.Output != "" && o.Output != "-"
	if st, err := os.Stat(o.Output); toFile && err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory: give -o the path of a file", o.Output)
	}
	c, _, err := o.Client()
	if err != nil {
		return err
	}
	body, size, err := c.FileContent(o.Ctx, o.FileID)
	if err != nil {
		return err
	}
	defer body.Close()
	if toFile {
		return writeFileAtomic(o.Output, body, size)
	}
	r := bufio.NewReaderSize(body, 8192)
	if o.IO.OutTTY && (o.Output == "" || o.Output == "-") && !o.Force {
		head, _ := r.Peek(8192)
		if looksBinary(head) {
			return withHint(usagef(errBinaryToTerminal), "redirect stdout to a file, or use -o PATH (or --force to write it anyway)")
		}
	}
	n, err := io.Copy(o.IO.Out, r)
	if err != nil {
		return fmt.Errorf("download %s: %w", o.FileID, err)
	}
	return checkSize(o.FileID, n, size)
}

// checkSize fails when fewer (or more) bytes arrived than announced.
func checkSize(id string, got, want int64) error {
	if want >= 0 && got != want {
		return fmt.Errorf("download %s: got %d of the %d bytes the server announced", id, got, want)
	}
	return nil
}

// writeFileAtomic streams r into a temporary file next to path, syncs it and
// renames it to path.
func writeFileAtomic(path string, r io.Reader, size int64) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, r)
	if err != nil {
		return fmt.Errorf("download to %s: %w", path, err)
	}
	if err := checkSize(path, n, size); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	done = true
	return nil
}

// looksBinary says whether the first bytes of some content are not text: a
// NUL, or bytes that are not UTF-8 (a rune cut at the end is allowed).
func looksBinary(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n == 1 {
			return len(head)-i >= utf8.UTFMax || utf8.FullRune(head[i:])
		}
		i += n
	}
	return false
}
