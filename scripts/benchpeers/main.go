// Command benchpeers measures `uploads put` side by side with its peers on one
// machine, against one `uploads serve`, with one file, and prints the results
// as markdown tables (one per setting) for docs/benchmarks.md.
//
// The tools, each run as a child process:
//
//   - `uploads put FILE --purpose video` with its defaults (64 MiB parts,
//     --concurrency 4), with --concurrency 1 and with --concurrency 8;
//   - scripts/sdkput: the official Go SDK used the straightforward way (read a
//     64 MiB part into memory, Parts.New, repeat, MD5 on the way, Complete);
//   - scripts/curl-upload.sh: the raw HTTP flow with curl as the API
//     reference shows it (split the file, send the parts one by one, complete
//     with the MD5 from md5sum), run by bash;
//   - the machine's limits: `md5sum FILE` and a plain read, `cat FILE >
//     /dev/null`.
//
// Two settings: loopback, and `uploads serve --throttle 40MiB` (each
// connection capped, as one TCP stream to a far endpoint is). For each size,
// the file (pseudo-random bytes, fsynced) is made once and deleted after its
// runs; for each setting a fresh `uploads serve --addr 127.0.0.1:0
// --data-dir DIR --quiet` process is started (its base URL read from the first
// line of its stdout, then /healthz awaited) and stopped after the size's runs.
//
// Measured for each run: the wall time from starting the child to its exit,
// and from the child's rusage (wait4) its peak RSS (ru_maxrss) and its user +
// system CPU time; the server's CPU time over the run from /proc/PID/stat. For
// the curl flow the child is bash: on Linux the rusage wait4 returns for a
// process includes its waited-for descendants (ru_maxrss is the largest of
// them, the CPU times their sum), so the figures cover split, every curl and
// md5sum.
//
// The rusage is read by GNU time (/usr/bin/time), which starts each tool, and
// not from cmd.ProcessState: Go starts children with clone(CLONE_VM|
// CLONE_VFORK), and on exec Linux folds the peak RSS of the mm the child was
// using, the parent's, into the child's ru_maxrss. A child of a Go process
// thus reports at least its parent's peak RSS (measured: md5sum of an empty
// file "peaks" at 203 MiB when started by a Go process that has touched 200
// MiB, 1.6 MiB when started by GNU time, which forks). GNU time forks, so a
// tool's figure has a floor of about 1 MiB (time's own), and for the curl flow
// bash's few MiB.
//
// After each upload, outside the timing, the file's content is read
// back from the server (GET /v1/files/{id}/content) and its MD5 compared with
// the source's (a mismatch is an error), the file is deleted (DELETE
// /v1/files/{id}), and the page cache's dirty pages are flushed (sync), so
// that no run pays for another's writeback.
//
// Usage (from the module's root; `make bench-peers` builds the binaries):
//
//	go run ./scripts/benchpeers --uploads bin/uploads --sdkput bin/sdkput \
//	  --sizes 256MiB,1GiB,4GiB --settings loopback,throttle --runs 1
//
// Without --uploads or --sdkput it builds them with `go build`. Progress goes
// to stderr, the tables to stdout.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uploads-dev/uploads/internal/benchkit"
	"github.com/uploads-dev/uploads/internal/units"
)

const (
	mib      = 1 << 20
	apiKey   = "sk-benchpeers"
	purpose  = "video"
	mimeType = "video/mp4"
)

// tool is one row of the tables.
type tool struct {
	key    string // its name in --tools
	label  string // its row label
	upload bool   // it uploads the file and prints a file id
	// command returns the program and arguments that process path.
	command func(c *config, path string) (string, []string)
}

var tools = []tool{
	{"put", "`uploads put` (defaults: 64 MiB parts, `--concurrency 4`)", true, func(c *config, path string) (string, []string) {
		return c.uploads, []string{"put", path, "--purpose", purpose}
	}},
	{"put-c1", "`uploads put --concurrency 1`", true, func(c *config, path string) (string, []string) {
		return c.uploads, []string{"put", path, "--purpose", purpose, "--concurrency", "1"}
	}},
	{"put-c8", "`uploads put --concurrency 8`", true, func(c *config, path string) (string, []string) {
		return c.uploads, []string{"put", path, "--purpose", purpose, "--concurrency", "8"}
	}},
	{"sdk", "official Go SDK (`scripts/sdkput`: 64 MiB parts in memory, one at a time)", true, func(c *config, path string) (string, []string) {
		return c.sdkput, []string{"--file", path, "--purpose", purpose, "--part-size", "64MiB", "--mime-type", mimeType}
	}},
	{"curl", "curl (`scripts/curl-upload.sh`: split, parts one at a time, md5sum, complete)", true, func(c *config, path string) (string, []string) {
		return "bash", []string{c.curlScript, path, purpose, mimeType}
	}},
	{"md5sum", "limit: `md5sum FILE`", false, func(_ *config, path string) (string, []string) {
		return "md5sum", []string{path}
	}},
	{"read", "limit: `cat FILE > /dev/null` (from the page cache)", false, func(_ *config, path string) (string, []string) {
		return "cat", []string{path}
	}},
}

// runOrder is the order in which the tools run for each size and setting:
// the plain read and md5sum first (they also bring the file into the page
// cache for everyone), then the uploads.
var runOrder = []string{"read", "md5sum", "sdk", "curl", "put", "put-c1", "put-c8"}

// settings are the server's configurations.
var settings = map[string]struct {
	title string
	flags func(c *config) []string
}{
	"loopback": {"loopback (`uploads serve`, no cap)", func(*config) []string { return nil }},
	"throttle": {"throttled (`uploads serve --throttle 40MiB`: each connection capped at 40 MiB/s)", func(c *config) []string {
		return []string{"--throttle", c.throttle}
	}},
}

type config struct {
	uploads, sdkput, curlScript string
	timeBin                     string // GNU time
	sizes                       []int64
	settings                    []string
	tools                       []string
	runs                        int
	throttle                    string
	workDir                     string
	args                        []string // as given, for the report
}

// result is one run of one tool.
type result struct {
	elapsed time.Duration
	peakRSS int64         // bytes
	cpu     time.Duration // the child's user + system time (with its waited-for descendants)
	srvCPU  time.Duration // the server's user + system time during the run
}

// key of a result set: setting, size, tool.
type cellKey struct {
	setting string
	size    int64
	tool    string
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeers:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "benchpeers: error:", err)
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("benchpeers", flag.ContinueOnError)
	c := &config{args: args}
	var sizes, sets, toolList string
	fs.StringVar(&c.uploads, "uploads", "", "the uploads binary (default: go build ./cmd/uploads)")
	fs.StringVar(&c.sdkput, "sdkput", "", "the sdkput binary (default: go build ./scripts/sdkput)")
	fs.StringVar(&c.curlScript, "curl-script", "scripts/curl-upload.sh", "the curl flow's script")
	fs.StringVar(&sizes, "sizes", "256MiB,1GiB,4GiB", "file sizes, comma-separated")
	fs.StringVar(&sets, "settings", "loopback,throttle", "server settings, comma-separated: loopback, throttle")
	fs.StringVar(&toolList, "tools", strings.Join(runOrder, ","), "tools to run, comma-separated")
	fs.IntVar(&c.runs, "runs", 1, "runs of each tool per size and setting (time and CPU: the median; RSS: the largest)")
	fs.StringVar(&c.throttle, "throttle", "40MiB", "the server's per-connection cap in the throttle setting")
	fs.StringVar(&c.timeBin, "time", "/usr/bin/time", "GNU time, which starts each tool and reports its rusage")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where the test file, the server's data and curl's parts go")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.runs < 1 {
		return nil, errors.New("--runs must be at least 1")
	}
	for _, s := range splitList(sizes) {
		n, err := units.ParseSize(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--sizes: %q is not a size", s)
		}
		c.sizes = append(c.sizes, n)
	}
	for _, s := range splitList(sets) {
		if _, ok := settings[s]; !ok {
			return nil, fmt.Errorf("--settings: unknown setting %q (loopback, throttle)", s)
		}
		c.settings = append(c.settings, s)
	}
	for _, t := range splitList(toolList) {
		if !slices.Contains(runOrder, t) {
			return nil, fmt.Errorf("--tools: unknown tool %q (%s)", t, strings.Join(runOrder, ", "))
		}
		c.tools = append(c.tools, t)
	}
	if len(c.sizes) == 0 || len(c.settings) == 0 || len(c.tools) == 0 {
		return nil, errors.New("--sizes, --settings and --tools must each name at least one")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *config) uses(key string) bool { return slices.Contains(c.tools, key) }

func run(ctx context.Context, c *config) error {
	work, err := os.MkdirTemp(c.workDir, "benchpeers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := c.prepare(ctx, work); err != nil {
		return err
	}
	machine := describeMachine(c.workDir)
	logf("%s", machine)
	if load := loadAvg1(); load >= 1.0 {
		logf("warning: the 1-minute load average is %.2f: the machine is busy, the figures will be noisy", load)
	}

	results := map[cellKey][]result{}
	err = c.measureAll(ctx, work, results)
	// What was measured is printed even after a failure.
	fmt.Print(report(c, machine, results))
	return err
}

// measureAll makes each size's file once and measures it in every setting.
func (c *config) measureAll(ctx context.Context, work string, results map[cellKey][]result) error {
	for _, size := range c.sizes {
		if err := checkRoom(work, size); err != nil {
			return err
		}
		path := filepath.Join(work, "clip.mp4")
		logf("making a %s test file", units.FormatSize(size))
		sum, err := benchkit.MakeFile(path, size)
		if err != nil {
			return err
		}
		for _, setting := range c.settings {
			if err := c.measureSetting(ctx, work, setting, path, size, sum, results); err != nil {
				return err
			}
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	return nil
}

// prepare builds the binaries that were not given and checks the tools.
func (c *config) prepare(ctx context.Context, work string) error {
	if c.uploads == "" || c.sdkput == "" {
		dir := filepath.Join(work, "bin")
		logf("building uploads and sdkput into %s", dir)
		out, err := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
			"github.com/uploads-dev/uploads/cmd/uploads", "github.com/uploads-dev/uploads/scripts/sdkput").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build: %w\n%s", err, out)
		}
		if c.uploads == "" {
			c.uploads = filepath.Join(dir, "uploads")
		}
		if c.sdkput == "" {
			c.sdkput = filepath.Join(dir, "sdkput")
		}
	}
	var err error
	for _, p := range []*string{&c.uploads, &c.sdkput, &c.curlScript, &c.timeBin} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
		if _, err := os.Stat(*p); err != nil {
			return err
		}
	}
	needs := []string{"bash", "sync"}
	if c.uses("curl") {
		needs = append(needs, "curl", "split", "md5sum")
	}
	if c.uses("md5sum") {
		needs = append(needs, "md5sum")
	}
	if c.uses("read") {
		needs = append(needs, "cat")
	}
	for _, n := range needs {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install curl coreutils)", n)
		}
	}
	out, err := exec.CommandContext(ctx, c.timeBin, "-f", "%M %U %S", "true").CombinedOutput()
	if err != nil || len(strings.Fields(string(out))) != 3 {
		return fmt.Errorf("%s does not look like GNU time (apt-get install time): %v %s", c.timeBin, err, out)
	}
	return nil
}

// measureSetting starts a server for setting, runs every tool c.runs times
// on the file at path, and stops the server.
func (c *config) measureSetting(ctx context.Context, work, setting, path string, size int64, sum string, results map[cellKey][]result) error {
	dataDir := filepath.Join(work, "data-"+setting)
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	srv, err := benchkit.StartServer(ctx, c.uploads, dataDir, childEnv(filepath.Dir(dataDir)), settings[setting].flags(c)...)
	if err != nil {
		return err
	}
	defer func() {
		srv.Stop()
		_ = os.RemoveAll(dataDir)
	}()
	for i := range c.runs {
		for _, key := range runOrder {
			if !c.uses(key) {
				continue
			}
			t := toolByKey(key)
			r, err := c.measure(ctx, work, srv, t, path, size, sum)
			if err != nil {
				return fmt.Errorf("%s, %s, %s: %w", setting, units.FormatSize(size), key, err)
			}
			k := cellKey{setting, size, key}
			results[k] = append(results[k], r)
			logf("%-8s %8s run %d/%d  %-7s %8.2f s %8.1f MiB/s  peak RSS %7.1f MiB  CPU %6.2f s  server CPU %6.2f s",
				setting, units.FormatSize(size), i+1, c.runs, key, r.elapsed.Seconds(), mibps(size, r.elapsed),
				float64(r.peakRSS)/mib, r.cpu.Seconds(), r.srvCPU.Seconds())
		}
	}
	return nil
}

func toolByKey(key string) tool {
	for _, t := range tools {
		if t.key == key {
			return t
		}
	}
	panic("unknown tool " + key)
}

// measure runs t once on path as a child process and, for an upload, checks
// the server's copy against the source (outside the timing) and deletes it.
func (c *config) measure(ctx context.Context, work string, srv *benchkit.Server, t tool, path string, size int64, sum string) (result, error) {
	runDir, err := os.MkdirTemp(work, "run-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(runDir)
	bin, args := t.command(c, path)
	rusageFile := filepath.Join(runDir, "rusage")
	cmd := exec.CommandContext(ctx, c.timeBin, append([]string{"-f", "%M %U %S", "-o", rusageFile, "--", bin}, args...)...)
	cmd.Dir = runDir
	cmd.Env = childEnv(runDir, "OPENAI_BASE_URL="+srv.BaseURL, "OPENAI_API_KEY="+apiKey, "TMPDIR="+runDir)
	// Its own process group, so that an interrupt stops a script's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout bytes.Buffer
	stderr := &benchkit.TailBuffer{Max: 64 << 10}
	cmd.Stderr = stderr
	if t.upload || t.key == "md5sum" {
		cmd.Stdout = &stdout
	} // else: /dev/null

	srvCPU := srv.CPU()
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	r := result{elapsed: elapsed, srvCPU: srv.CPU() - srvCPU}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, stderr)
	}
	if r.peakRSS, r.cpu, err = readRusage(rusageFile); err != nil {
		return r, err
	}

	out := strings.TrimSpace(stdout.String())
	switch {
	case t.upload:
		id := out
		if i := strings.LastIndexByte(id, '\n'); i >= 0 {
			id = id[i+1:]
		}
		if !strings.HasPrefix(id, "file-") {
			return r, fmt.Errorf("%s printed %q, want a file id; stderr:\n%s", t.key, out, stderr)
		}
		if err := srv.CheckContent(ctx, apiKey, id, sum, size); err != nil {
			return r, err
		}
		if err := srv.Delete(ctx, apiKey, id); err != nil {
			return r, err
		}
	case t.key == "md5sum":
		if got, _, _ := strings.Cut(out, " "); got != sum {
			return r, fmt.Errorf("md5sum printed %q, want %s", out, sum)
		}
	}
	syscall.Sync()
	return r, nil
}

// readRusage reads what `time -f "%M %U %S"` wrote: the child's peak RSS in
// KiB, user and system time in seconds.
func readRusage(path string) (peakRSS int64, cpu time.Duration, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("%s: unexpected output of time: %q", path, raw)
	}
	kib, err1 := strconv.ParseInt(f[0], 10, 64)
	user, err2 := strconv.ParseFloat(f[1], 64)
	sys, err3 := strconv.ParseFloat(f[2], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return kib * 1024, time.Duration((user + sys) * float64(time.Second)), nil
}

// childEnv is this process's environment less anything that would change
// what is measured (benchkit.CleanEnv) and less TMPDIR, plus extra; XDG
// directories point into dir.
func childEnv(dir string, extra ...string) []string {
	env := append(benchkit.CleanEnv("TMPDIR"), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	return append(env, extra...)
}

// checkRoom fails if dir's file system cannot hold the test file, the
// server's copy and the curl flow's split parts of size bytes each.
func checkRoom(dir string, size int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	need := 3*size + 1<<30
	if free < need {
		return fmt.Errorf("%s has %s free; a %s run needs %s (the file, the server's copy, curl's split parts, 1 GiB spare)",
			dir, units.FormatSize(free), units.FormatSize(size), units.FormatSize(need))
	}
	return nil
}

// describeMachine is one line: CPUs, CPU model, memory, kernel, OS, Go,
// date, load average.
func describeMachine(dir string) string {
	model := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	kernel := strings.TrimSpace(readString("/proc/sys/kernel/osrelease"))
	osName := ""
	for line := range strings.SplitSeq(readString("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			osName = ", " + strings.Trim(v, `"`)
		}
	}
	disk := ""
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil {
		disk = fmt.Sprintf(", %s free in %s", units.FormatSize(int64(st.Bavail)*int64(st.Bsize)), dir)
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, Linux %s%s, %s%s; %s; load average at start %s",
		runtime.NumCPU(), model, mem, kernel, osName, runtime.Version(), disk,
		time.Now().UTC().Format("2006-01-02 15:04 MST"), loadAvg())
}

func readString(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}

// loadAvg is the 1, 5 and 15-minute load averages.
func loadAvg() string {
	f := strings.Fields(readString("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func loadAvg1() float64 {
	f := strings.Fields(readString("/proc/loadavg"))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func mibps(size int64, d time.Duration) float64 { return float64(size) / mib / d.Seconds() }

// summary is the median time and CPU and the largest peak RSS of runs.
func summary(runs []result) result {
	med := func(get func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	s := result{
		elapsed: med(func(r result) time.Duration { return r.elapsed }),
		cpu:     med(func(r result) time.Duration { return r.cpu }),
		srvCPU:  med(func(r result) time.Duration { return r.srvCPU }),
	}
	for _, r := range runs {
		s.peakRSS = max(s.peakRSS, r.peakRSS)
	}
	return s
}

// report renders the results as markdown.
func report(c *config, machine string, results map[cellKey][]result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s; load average at end %s.\n\n", machine, loadAvg())
	fmt.Fprintf(&b, "Command: `go run ./scripts/benchpeers %s`\n", strings.Join(c.args, " "))
	if c.runs > 1 {
		fmt.Fprintf(&b, "\n%d runs of each: time and CPU are the medians, peak RSS the largest.\n", c.runs)
	}
	header := func(first string) {
		fmt.Fprintf(&b, "| %s |", first)
		for _, size := range c.sizes {
			fmt.Fprintf(&b, " %s |", units.FormatSize(size))
		}
		b.WriteString("\n| --- |")
		b.WriteString(strings.Repeat(" --- |", len(c.sizes)))
		b.WriteString("\n")
	}
	// rows writes one table of a setting: a header, then a row per tool with
	// label(t) and a cell(t, summary, size) per size.
	rows := func(setting string, label func(tool) string, cell func(tool, result, int64) string) {
		header("tool")
		for _, t := range tools {
			if !c.uses(t.key) {
				continue
			}
			fmt.Fprintf(&b, "| %s |", label(t))
			for _, size := range c.sizes {
				runs := results[cellKey{setting, size, t.key}]
				if len(runs) == 0 {
					b.WriteString(" (not measured) |")
					continue
				}
				fmt.Fprintf(&b, " %s |", cell(t, summary(runs), size))
			}
			b.WriteString("\n")
		}
	}
	for _, setting := range c.settings {
		fmt.Fprintf(&b, "\n#### %s\n\nEach cell: wall time / MiB/s / peak RSS of the process (for curl: of the largest of bash, split, curl, md5sum).\n\n",
			settings[setting].title)
		rows(setting, func(t tool) string { return t.label }, func(t tool, s result, size int64) string {
			return fmt.Sprintf("%.2f s / %.1f MiB/s / %.1f MiB", s.elapsed.Seconds(), mibps(size, s.elapsed), float64(s.peakRSS)/mib)
		})
		b.WriteString("\nCPU time (user + system, seconds): the tool's / the server's during the run.\n\n")
		rows(setting, func(t tool) string { return t.key }, func(t tool, s result, _ int64) string {
			if t.upload {
				return fmt.Sprintf("%.2f / %.2f", s.cpu.Seconds(), s.srvCPU.Seconds())
			}
			return fmt.Sprintf("%.2f", s.cpu.Seconds())
		})
	}
	return b.String()
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchpeers: "+format+"\n", a...)
}
