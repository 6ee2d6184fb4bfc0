package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/uploads-dev/uploads/internal/benchkit"
	"github.com/uploads-dev/uploads/internal/units"
)

// manyKey names the runs of one tool of the many scenario in one setting.
type manyKey struct{ setting, tool string }

// manyTool is one row of the many scenario: a command that uploads every
// file and prints their file ids, one a line.
type manyTool struct {
	key, label string
	command    func(c *options, paths []string) (string, []string)
}

var manyTools = []manyTool{
	{"sdk-loop", "official Go SDK, once per file (`for f in …; do sdkput --file \"$f\" …; done`)", func(c *options, paths []string) (string, []string) {
		script := `sdk=$1; shift; for f in "$@"; do "$sdk" ` + strings.Join(sdkArgs(`"$f"`), " ") + ` || exit 1; done`
		return "bash", append([]string{"-c", script, "bash", c.sdkput}, paths...)
	}},
	{"put-jobs", "", func(c *options, paths []string) (string, []string) {
		args := []string{"put", "--purpose", purpose}
		if c.jobs > 0 {
			args = append(args, "--jobs", strconv.Itoa(c.jobs))
		}
		return c.uploads, append(args, paths...)
	}},
}

func (t manyTool) title(c *options) string {
	if t.key == "put-jobs" {
		if c.jobs == 0 {
			return fmt.Sprintf("`uploads put f1 … f%d` (one process, the defaults: as many files at once as --concurrency, sharing its connections)", c.manyCount)
		}
		return fmt.Sprintf("`uploads put --jobs %d f1 … f%d` (one process, other settings default)", c.jobs, c.manyCount)
	}
	return t.label
}

// measureMany makes the many scenario's files (each its own bytes) and
// measures each tool on them in the far setting, with a fresh server.
func (c *options) measureMany(ctx context.Context, work string, res *results) error {
	total := int64(c.manyCount) * c.manySize
	if err := checkRoom(work, 2*total, fmt.Sprintf("%d files of %s", c.manyCount, units.FormatSize(c.manySize))); err != nil {
		return err
	}
	dir := filepath.Join(work, "many")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logf("making %d test files of %s", c.manyCount, units.FormatSize(c.manySize))
	paths := make([]string, c.manyCount)
	sums := make([]string, c.manyCount)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("clip%03d.mp4", i+1))
		var err error
		if sums[i], err = benchkit.MakeFileSeeded(paths[i], c.manySize, uint64(i+1)); err != nil {
			return err
		}
	}
	return c.measureManySetting(ctx, work, "far", paths, sums, res)
}

func (c *options) measureManySetting(ctx context.Context, work, setting string, paths, sums []string, res *results) error {
	srv, stop, err := c.startServer(ctx, work, setting)
	if err != nil {
		return err
	}
	defer stop()
	for i := range c.runs {
		for _, t := range manyTools {
			r, err := c.measureManyOnce(ctx, work, srv, t, paths, sums)
			if err != nil {
				return fmt.Errorf("%s, %d files, %s: %w", setting, len(paths), t.key, err)
			}
			k := manyKey{setting, t.key}
			res.many[k] = append(res.many[k], r)
			logf("%-8s %d files run %d/%d  %-8s %7.2f s  peak RSS %6.1f MiB  CPU %5.2f s  server CPU %5.2f s  TCP conns %d (%d in all)",
				setting, len(paths), i+1, c.runs, t.key, r.Elapsed.Seconds(), float64(r.PeakRSS)/mib, r.CPU.Seconds(), r.srvCPU.Seconds(),
				r.conns, r.connsSeen)
		}
	}
	return nil
}

// measureManyOnce runs t once and then, outside the timing, checks that the
// server holds each source file once (the MD5s of the files it printed are
// the sources' MD5s) and deletes them.
func (c *options) measureManyOnce(ctx context.Context, work string, srv *benchkit.Server, t manyTool, paths, sums []string) (result, error) {
	runDir, err := os.MkdirTemp(work, "run-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(runDir)
	bin, args := t.command(c, paths)
	env := append(childEnv(runDir, "OPENAI_BASE_URL="+srv.BaseURL, "OPENAI_API_KEY="+apiKey, "TMPDIR="+runDir), srv.TrustEnv()...)
	var stdout bytes.Buffer
	stderr := &benchkit.TailBuffer{Max: 64 << 10}
	conns := benchkit.SampleConns(srv.Port, connInterval)
	srvCPU := srv.CPU()
	u, err := c.time.Run(ctx, runDir, env, &stdout, stderr, bin, args...)
	r := result{Usage: u, srvCPU: srv.CPU() - srvCPU}
	r.conns, r.connsSeen, r.connsOK = conns.Stop()
	if err != nil {
		return r, fmt.Errorf("%w\n%s", err, stderr)
	}
	// One line per file: its id, then (for more than one file) a tab and
	// its path.
	var ids []string
	for line := range strings.Lines(stdout.String()) {
		if f := strings.Fields(line); len(f) > 0 {
			ids = append(ids, f[0])
		}
	}
	if len(ids) != len(paths) {
		return r, fmt.Errorf("%s printed %d file ids for %d files; stderr:\n%s", t.key, len(ids), len(paths), stderr)
	}
	got := make([]string, 0, len(ids))
	for _, id := range ids {
		if !strings.HasPrefix(id, "file-") {
			return r, fmt.Errorf("%s printed %q, want a file id", t.key, id)
		}
		sum, n, err := srv.ContentMD5(ctx, apiKey, id)
		if err != nil {
			return r, err
		}
		if n != c.manySize {
			return r, fmt.Errorf("the server's %s has %d bytes, want %d", id, n, c.manySize)
		}
		got = append(got, sum)
		if err := srv.Delete(ctx, apiKey, id); err != nil {
			return r, err
		}
	}
	want := slices.Clone(sums)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return r, fmt.Errorf("the MD5s of the %d files on the server are not those of the %d sources", len(got), len(want))
	}
	syscall.Sync()
	return r, nil
}
