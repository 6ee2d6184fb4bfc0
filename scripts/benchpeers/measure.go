package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/uploads-dev/uploads/internal/benchkit"
	"github.com/uploads-dev/uploads/internal/units"
)

// result is one run of one tool.
type result struct {
	benchkit.Usage
	srvCPU time.Duration // the server's user + system time during the run
	// From `uploads put --progress json`: the parts phase, the tail after
	// it, the number of parts, and the utilization of the connections (0
	// without a cap on them).
	phase, tail time.Duration
	parts       int
	util        float64
	// For uploads: the TCP connections the server held during the run, the
	// most at one time and how many in all (benchkit.SampleConns); connsOK
	// is false where they could not be counted.
	conns, connsSeen int
	connsOK          bool
	// For curl: the CPU time of the curl processes that sent the parts
	// (the script's parts step, from CURL_UPLOAD_TIMES).
	curlSend time.Duration
}

// cellKey names the runs of one tool on one file size in one setting.
type cellKey struct {
	setting string
	size    int64
	tool    string
}

// results are every run, by scenario.
type results struct {
	files map[cellKey][]result
	many  map[manyKey][]result
}

// measureFiles makes each size's file once and measures every tool on it
// in every setting, each setting with a fresh server.
func (c *options) measureFiles(ctx context.Context, work string, res *results) error {
	for _, size := range c.allSizes() {
		need := 2 * size // the file and the server's copy
		if c.uses("curl") {
			need += size // curl's split parts
		}
		if err := checkRoom(work, need, "a "+units.FormatSize(size)+" run"); err != nil {
			return err
		}
		path := filepath.Join(work, "clip.mp4")
		logf("making a %s test file", units.FormatSize(size))
		sum, err := benchkit.MakeFile(path, size)
		if err != nil {
			return err
		}
		for _, setting := range c.settings {
			if !slices.Contains(c.sizesOf(setting), size) {
				continue
			}
			if err := c.measureSetting(ctx, work, setting, path, size, sum, res); err != nil {
				return err
			}
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	return nil
}

// measureSetting starts a server for setting, runs every tool c.runs times
// on the file at path, and stops the server.
func (c *options) measureSetting(ctx context.Context, work, setting, path string, size int64, sum string, res *results) error {
	srv, stop, err := c.startServer(ctx, work, setting)
	if err != nil {
		return err
	}
	defer stop()
	for i := range c.runs {
		for _, key := range runOrder {
			if !c.uses(key) {
				continue
			}
			r, err := c.measure(ctx, work, setting, srv, toolByKey(key), path, size, sum)
			if err != nil {
				return fmt.Errorf("%s, %s, %s: %w", setting, units.FormatSize(size), key, err)
			}
			k := cellKey{setting, size, key}
			res.files[k] = append(res.files[k], r)
			util := ""
			if r.connsOK {
				util = fmt.Sprintf("  TCP conns %d (%d in all)", r.conns, r.connsSeen)
			}
			if r.curlSend > 0 {
				util += fmt.Sprintf("  curl sending CPU %.2f s", r.curlSend.Seconds())
			}
			if r.parts > 0 {
				util += fmt.Sprintf("  %d parts, phase %.2f s, tail %.2f s", r.parts, r.phase.Seconds(), r.tail.Seconds())
				if r.util > 0 {
					util += fmt.Sprintf(", utilization %.0f %%", 100*r.util)
				}
			}
			logf("%-8s %8s run %d/%d  %-7s %7.2f s %7.1f MiB/s  peak RSS %6.1f MiB  CPU %5.2f s  server CPU %5.2f s%s",
				setting, units.FormatSize(size), i+1, c.runs, key, r.Elapsed.Seconds(), mibps(size, r.Elapsed),
				float64(r.PeakRSS)/mib, r.CPU.Seconds(), r.srvCPU.Seconds(), util)
		}
	}
	return nil
}

// measure runs t once on path as a child process and, for an upload, checks
// the server's copy against the source (outside the timing) and deletes it.
func (c *options) measure(ctx context.Context, work, setting string, srv *benchkit.Server, t tool, path string, size int64, sum string) (result, error) {
	runDir, err := os.MkdirTemp(work, "run-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(runDir)
	bin, args := t.command(c, path)
	env := append(childEnv(runDir, "OPENAI_BASE_URL="+srv.BaseURL, "OPENAI_API_KEY="+apiKey, "TMPDIR="+runDir), srv.TrustEnv()...)
	timesPath := filepath.Join(runDir, "curl-times")
	if t.key == "curl" {
		env = append(env, "CURL_UPLOAD_TIMES="+timesPath)
		if srv.CACert != "" {
			env = append(env, "CA_CERT="+srv.CACert)
		}
		if c.curlHTTP != "" {
			env = append(env, "HTTP_VERSION="+c.curlHTTP)
		}
	}
	var stdout bytes.Buffer
	var out io.Writer // nil: /dev/null
	if t.upload || t.key == "md5sum" {
		out = &stdout
	}
	stderr := &benchkit.TailBuffer{Max: 4 << 20}
	var conns *benchkit.ConnSampler
	if t.upload {
		conns = benchkit.SampleConns(srv.Port, connInterval)
	}
	srvCPU := srv.CPU()
	u, err := c.time.Run(ctx, runDir, env, out, stderr, bin, args...)
	r := result{Usage: u, srvCPU: srv.CPU() - srvCPU}
	if conns != nil {
		r.conns, r.connsSeen, r.connsOK = conns.Stop()
	}
	if err != nil {
		return r, fmt.Errorf("%w\n%s", err, stderr)
	}
	if t.key == "curl" {
		raw, err := os.ReadFile(timesPath)
		if err != nil {
			return r, fmt.Errorf("curl: its CPU by step: %w", err)
		}
		if r.curlSend, err = curlSendCPU(raw); err != nil {
			return r, fmt.Errorf("curl: %s: %w", timesPath, err)
		}
	}

	text := strings.TrimSpace(stdout.String())
	switch {
	case t.upload:
		id := text
		if i := strings.LastIndexByte(id, '\n'); i >= 0 {
			id = id[i+1:]
		}
		id, _, _ = strings.Cut(id, "\t") // the id, then with some versions the path
		if !strings.HasPrefix(id, "file-") {
			return r, fmt.Errorf("%s printed %q, want a file id; stderr:\n%s", t.key, text, stderr)
		}
		if err := srv.CheckContentFile(ctx, apiKey, id, path); err != nil {
			return r, err
		}
		if err := srv.Delete(ctx, apiKey, id); err != nil {
			return r, err
		}
	case t.key == "md5sum":
		if got, _, _ := strings.Cut(text, " "); got != sum {
			return r, fmt.Errorf("md5sum printed %q, want %s", text, sum)
		}
	}
	if t.concurrency > 0 {
		p, ok := benchkit.ParseProgress([]byte(stderr.String()))
		if !ok {
			return r, fmt.Errorf("%s: no start, part and completed events in its --progress json output:\n%s", t.key, stderr)
		}
		r.phase, r.tail, r.parts = p.PartsPhase(), p.Tail(), p.Parts
		switch setting {
		case "far":
			r.util = p.Utilization(size, t.concurrency, float64(c.throttle))
		case "link":
			r.util = p.LinkUtilization(size, float64(c.linkThrottle))
		}
	}
	syscall.Sync()
	return r, nil
}

// connInterval is how often the server's TCP connections are counted
// during an upload.
const connInterval = 100 * time.Millisecond

func mibps(size int64, d time.Duration) float64 { return float64(size) / mib / d.Seconds() }
