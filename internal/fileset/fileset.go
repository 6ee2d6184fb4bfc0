// Package fileset turns the arguments of `uploads put` into the list of
// files to upload, before any request is made.
//
// # Arguments
//
// Every argument is a path. A file argument is taken as is: include and
// exclude patterns do not apply to it, its Path is the argument unchanged and
// its Rel is its base name. A directory argument is an error unless
// Options.Recursive is set; then it is walked depth first, the entries of
// each directory in lexical (byte) order, so that the same tree always gives
// the same list. A file found in a walk has the Path filepath.Join(dir, rel)
// (so "./data" gives "data/a.txt") and the Rel rel, with forward slashes.
// Arguments keep their order. An argument that does not exist is an error
// naming it, and so is a directory that cannot be read.
//
// # Patterns
//
// Options.Include and Options.Exclude are globs in the syntax of
// github.com/bmatcuk/doublestar/v4: * and ? (not across '/'), [class],
// {alt,...}, '\' to escape, and ** for any number of directories
// ("logs/**/*.gz"). They are matched, case-sensitively, against paths relative
// to the directory argument, always with forward slashes, never with a leading
// "./"; hidden files get no special treatment. As in rsync and rclone:
//
//   - a pattern with no '/' matches the base name at any depth: "*.tmp"
//     matches "a.tmp" and "x/y/a.tmp";
//   - a pattern with a '/' is anchored at the directory argument and matches
//     the whole relative path: "docs/*.md" matches "docs/a.md", not
//     "x/docs/a.md" (write "**/docs/*.md" for that); a leading '/' anchors a
//     pattern that has no other ("/a.txt" is a.txt at the top only);
//   - an exclude pattern ending in '/' matches directories only ("cache/");
//     include patterns match files, so they may not end in '/'.
//
// A file is taken when it matches no exclude pattern and, if there are
// include patterns, at least one of them (no include patterns means
// everything). Exclude wins over include. Exclude patterns are also tried on
// directories, and a directory they match is not walked at all ("node_modules"
// or ".git/" prune a whole tree; "build/**" matches "build" too). Include
// patterns never prune a directory. Paths that patterns leave out are not
// reported. Every pattern is checked before anything is read: a malformed
// one is a *PatternError naming it.
//
// # Symbolic links
//
// A symbolic link named as an argument is followed: the user named it. One met
// during a walk is not followed, and is reported in Skipped, unless
// Options.FollowSymlinks is set. Then a link to a file is a file (its Path is
// the link's path, its Size the target's), a link to a directory is walked as
// if it were that directory, a broken link is reported in Skipped, and a link
// to one of its own ancestor directories (a loop) is reported in Skipped and
// not walked. Patterns see the link's path, not the target's.
//
// # Skipped files
//
// Empty files and files that are not regular files (named pipes, sockets,
// devices) cannot be uploaded: they are reported in Set.Skipped with the
// reason, not as errors, whether named as arguments or found in a walk.
//
// # Duplicates
//
// A file reached twice (named twice, as "a.txt" and "./a.txt", or named and
// also found in a walk, or found by two overlapping directory arguments) is
// listed once, where it is first reached. Two paths are the same file when
// their cleaned absolute paths (filepath.Abs) are equal; this is lexical:
// symbolic links are not resolved, so a link and its target, or two hard
// links, are two entries (they may well be uploaded under different names).
// A symbolic link skipped in a walk and also named as an argument is listed
// as a file, from the argument.
package fileset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Options say how to expand the arguments.
type Options struct {
	// Recursive allows directory arguments and walks them.
	Recursive bool
	// Include and Exclude are the patterns described in the package
	// documentation.
	Include, Exclude []string
	// FollowSymlinks follows symbolic links met during a walk.
	FollowSymlinks bool
}

// File is one file to upload.
type File struct {
	// Path is the file as the user would type it: the file argument itself,
	// or the directory argument joined with Rel.
	Path string
	// Rel is the path relative to the directory argument, with forward
	// slashes; for a file argument, its base name.
	Rel  string
	Size int64
	Mode fs.FileMode
}

// Skipped is a path that was found but cannot be uploaded.
type Skipped struct {
	Path   string
	Reason string
}

// Set is the result of Expand: the files in order, and what was left out
// and why.
type Set struct {
	Files   []File
	Skipped []Skipped
}

// maxLinkDepth bounds how many followed links to directories may nest, as
// the kernel bounds symbolic link resolution.
const maxLinkDepth = 40

// Expand lists the files that args name; see the package documentation.
// It returns a *PatternError for a malformed pattern and an error naming the
// argument for one that does not exist or is a directory without
// Recursive. Expand with no arguments, or whose patterns leave nothing, returns
// an empty Set: saying so is the caller's business.
func Expand(args []string, opts Options) (Set, error) {
	inc, err := compile("include", opts.Include, false)
	if err != nil {
		return Set{}, err
	}
	exc, err := compile("exclude", opts.Exclude, true)
	if err != nil {
		return Set{}, err
	}
	e := &expander{opts: opts, include: inc, exclude: exc, files: map[string]bool{}, skipped: map[string]bool{}}
	for _, arg := range args {
		if err := e.arg(arg); err != nil {
			return Set{}, err
		}
	}
	// A link skipped in a walk may have been named as an argument too.
	kept := e.set.Skipped[:0]
	for _, s := range e.set.Skipped {
		if !e.files[key(s.Path)] {
			kept = append(kept, s)
		}
	}
	e.set.Skipped = kept
	return e.set, nil
}

type expander struct {
	opts             Options
	include, exclude []pattern
	files, skipped   map[string]bool // keys (see key) of the paths listed in set
	set              Set
}

// pathError is an error about one path, worded for the user.
type pathError struct {
	path, problem string
	err           error
}

func (e *pathError) Error() string { return e.path + ": " + e.problem }
func (e *pathError) Unwrap() error { return e.err }

func (e *expander) arg(arg string) error {
	if arg == "" {
		return errors.New("an empty argument names no file")
	}
	st, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if lst, lerr := os.Lstat(arg); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
				return &pathError{arg, "broken symbolic link (its target does not exist)", err}
			}
			return &pathError{arg, "no such file or directory", err}
		}
		return &pathError{arg, "cannot read it: " + errText(err), err}
	}
	if !st.IsDir() {
		// A file the user named is an error when it cannot be uploaded;
		// skipping with a warning is for what a walk finds.
		if reason := Unfit(st); reason != "" {
			return &pathError{arg, "cannot be uploaded: " + reason, nil}
		}
		e.add(arg, path.Base(filepath.ToSlash(filepath.Clean(arg))), st)
		return nil
	}
	if !e.opts.Recursive {
		return &pathError{arg, "is a directory; add --recursive to upload the files in it", nil}
	}
	return e.walk(arg, arg, "", nil, 0)
}

// errText is err's message without the operation and path a *fs.PathError
// puts before it (the caller names the path itself).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// add lists the file at userPath (info from Stat, so links are resolved)
// unless it was reached before, or skips it if it cannot be uploaded.
func (e *expander) add(userPath, rel string, info fs.FileInfo) {
	k := key(userPath)
	if e.files[k] {
		return
	}
	if reason := Unfit(info); reason != "" {
		e.skip(userPath, reason)
		return
	}
	e.files[k] = true
	e.set.Files = append(e.set.Files, File{Path: userPath, Rel: rel, Size: info.Size(), Mode: info.Mode()})
}

// skip reports userPath as skipped, unless it was listed already.
func (e *expander) skip(userPath, reason string) {
	k := key(userPath)
	if e.files[k] || e.skipped[k] {
		return
	}
	e.skipped[k] = true
	e.set.Skipped = append(e.set.Skipped, Skipped{Path: userPath, Reason: reason})
}

// key is what makes two paths the same file: the cleaned absolute path.
func key(userPath string) string {
	k, err := filepath.Abs(userPath)
	if err != nil {
		return filepath.Clean(userPath)
	}
	return k
}

// Unfit says why a file described by info (from Stat: links followed)
// cannot be uploaded, or "" when it can. It is the one rule: put's
// arguments and walks, the upload engine and create all ask it. (The
// API's 8 GiB bound is the engine's.)
func Unfit(info fs.FileInfo) string {
	m := info.Mode()
	switch {
	case m.IsDir():
		return "directory"
	case m.IsRegular() && info.Size() == 0:
		return "empty file: there is nothing to upload"
	case m.IsRegular():
		return ""
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO), not a regular file"
	case m&fs.ModeSocket != 0:
		return "socket, not a regular file"
	case m&fs.ModeCharDevice != 0:
		return "character device, not a regular file"
	case m&fs.ModeDevice != 0:
		return "device, not a regular file"
	default:
		return "not a regular file (" + m.Type().String() + ")"
	}
}

// dir is a directory on the way down, for finding loops.
type dir struct {
	fsPath, userPath string
	info             fs.FileInfo
}

// walk walks the directory at fsPath (which may be a symbolic link to it),
// whose path as the user would type it is userRoot and whose path relative
// to the directory argument is relRoot ("" for the argument itself). outer
// are the directories above it in enclosing walks; depth counts the links
// followed to get here.
func (e *expander) walk(fsPath, userRoot, relRoot string, outer []dir, depth int) error {
	root := filepath.Clean(fsPath)
	if lst, err := os.Lstat(root); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
		// WalkDir does not descend into a link: walk its target, under the
		// link's name.
		if root, err = filepath.EvalSymlinks(root); err != nil {
			return &pathError{userRoot, "cannot resolve the symbolic link: " + errText(err), err}
		}
	}
	var stack []dir // directories of this walk above the current entry
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		sub, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		userPath := filepath.Join(userRoot, sub)
		rel := path.Join(relRoot, filepath.ToSlash(sub))
		if err != nil {
			return &pathError{userPath, "cannot read it: " + errText(err), err}
		}
		for len(stack) > 0 && !under(stack[len(stack)-1].fsPath, p) {
			stack = stack[:len(stack)-1]
		}
		if p == root {
			info, err := d.Info()
			if err != nil {
				return &pathError{userPath, "cannot read it: " + errText(err), err}
			}
			stack = append(stack, dir{p, userPath, info})
			return nil
		}
		base := d.Name()
		switch {
		case d.IsDir():
			if matchAny(e.exclude, rel, base, true) {
				return filepath.SkipDir
			}
			info, err := d.Info()
			if err != nil {
				return &pathError{userPath, "cannot read it: " + errText(err), err}
			}
			stack = append(stack, dir{p, userPath, info})
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			return e.link(p, userPath, rel, base, append(append([]dir(nil), outer...), stack...), depth)
		default:
			if !e.wanted(rel, base) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return &pathError{userPath, "cannot read it: " + errText(err), err}
			}
			e.add(userPath, rel, info)
			return nil
		}
	})
}

// link handles a symbolic link met in a walk; ancestors are the directories
// above it.
func (e *expander) link(p, userPath, rel, base string, ancestors []dir, depth int) error {
	if !e.opts.FollowSymlinks {
		if e.wanted(rel, base) {
			e.skip(userPath, "symbolic link, not followed (add --follow-symlinks to follow it)")
		}
		return nil
	}
	st, err := os.Stat(p)
	if err != nil {
		if e.wanted(rel, base) {
			e.skip(userPath, "broken symbolic link: "+errText(err))
		}
		return nil
	}
	if !st.IsDir() {
		if e.wanted(rel, base) {
			e.add(userPath, rel, st)
		}
		return nil
	}
	if matchAny(e.exclude, rel, base, true) {
		return nil
	}
	for _, a := range ancestors {
		if os.SameFile(a.info, st) {
			e.skip(userPath, "symbolic link loop: it leads back to "+a.userPath)
			return nil
		}
	}
	if depth+1 > maxLinkDepth {
		e.skip(userPath, fmt.Sprintf("more than %d nested symbolic links to directories", maxLinkDepth))
		return nil
	}
	return e.walk(p, userPath, rel, ancestors, depth+1)
}

// wanted reports whether the patterns take the file at rel.
func (e *expander) wanted(rel, base string) bool {
	if matchAny(e.exclude, rel, base, false) {
		return false
	}
	return len(e.include) == 0 || matchAny(e.include, rel, base, false)
}

// under reports whether p is inside the directory d (both cleaned).
func under(d, p string) bool {
	if !strings.HasPrefix(p, d) || len(p) == len(d) {
		return false
	}
	return strings.HasSuffix(d, string(filepath.Separator)) || p[len(d)] == filepath.Separator
}
