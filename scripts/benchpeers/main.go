// Command benchpeers measures `uploads put` side by side with its peers on one
// machine, against one `uploads serve --strict` (exactly the real service's
// API), and prints the results as markdown tables for docs/benchmarks.md,
// with a table of the goals they meet or miss.
//
// Two scenarios:
//
//   - files: one file of each size (--sizes, --loopback-sizes), uploaded by each of --tools (see
//     tools.go): `uploads put FILE --purpose video` with its defaults, with
//     --concurrency 4 and 16; scripts/sdkput, the official Go SDK used as
//     its documentation shows (sequential, 64 MiB parts read into memory,
//     the MD5 on the way); the curl recipe (scripts/curl-upload.sh); and the
//     machine's limits, `md5sum FILE` (one MD5 pass) and `cat FILE`.
//   - many: --many files (200 × 1 MiB), uploaded by one `uploads put (--jobs N)
//     f1 … f200`, and by a bash `for` loop that runs sdkput once per file, as
//     a user would script it.
//
// The real service is reached over HTTPS, whose edge offers HTTP/2, so by
// default (--tls) every setting's server is `uploads serve --tls`: a
// self-signed certificate in DATA_DIR/tls/cert.pem, HTTP/2 and HTTP/1.1
// offered by ALPN. The Go children (uploads, sdkput) trust it through
// SSL_CERT_FILE, curl through --cacert (the script's CA_CERT), this program's
// own requests through benchkit.Server. --tls=false measures plain HTTP, for
// comparison. curl speaks HTTP/1.1 (--curl-http): curl 7.88's HTTP/2 upload
// spins on a stream whose flow-control window is full, so against a throttled
// server its CPU is the wall time (measured: a 32 MiB part at 10 MiB/s, 3.3
// s, cost 2.8 s of CPU over HTTP/2, 0.07 s over HTTP/1.1), which is not the
// cost of sending the bytes; `uploads put` speaks HTTP/1.1 over TLS too.
//
// Three server settings: far, `uploads serve --strict --tls --latency 20ms
// --throttle 10MiB` (20 ms added to every request, each TCP connection
// capped at 10 MiB/s, as one TCP flow over a long path gets: what users meet;
// the goals are held against it); link (only when --settings names it),
// `--latency 20ms --throttle-link 80MiB` and no cap per connection: one cap
// shared by all connections, to compare the concurrencies under a shared
// link as well as under the per-flow cap; and loopback, `uploads serve
// --strict --tls` (no cap: the two cores are the limit, so the figures are
// mostly the server's; for information, with --loopback-sizes; over TLS too,
// for consistency). The many scenario runs in the far setting. For each
// setting and scenario a fresh `uploads serve --addr 127.0.0.1:0 --data-dir
// DIR --quiet` process is started (its base URL read from the first line of
// its stdout, then /healthz awaited) and stopped after the runs. Test files
// (pseudo-random bytes, fsynced) are made once and deleted after their runs.
// Each run of a tool goes once through the tools in order, so the runs of
// all tools interleave.
//
// Measured for each run (internal/benchkit.GNUTime, whose comment explains
// why GNU time and not the Go child's rusage): the wall time from starting
// the child to its exit; from the child's rusage its peak RSS and its user +
// system CPU time (for a script, of every program it ran); the server's CPU
// time over the run from /proc/PID/stat; for uploads, the TCP connections
// the server held, sampled every 100 ms (benchkit.SampleConns: the most at
// one time, and how many in all). `uploads put` runs with --progress json (an
// output format only), and from its events the parts phase (the first
// part_started to the last part_done) gives the utilization: in far, of the
// connections the parts in flight would open, file bytes / (parts phase ×
// min(concurrency, parts) × --throttle); in link, of the link, file bytes /
// (parts phase × --link-throttle). The curl script reports the CPU time of
// its steps (CURL_UPLOAD_TIMES), and the CPU floor of a client is `md5sum
// FILE`'s CPU plus the CPU of curl sending the parts (not the script's split
// nor its md5sum): one MD5 pass and the bytes sent over the same protocol.
//
// After each upload, outside the timing, every file's content is read back
// from the server (GET /v1/files/{id}/content) and compared with the source,
// byte for byte for one file, by MD5 for the many files (the server must hold
// each source once); a mismatch is an error. Then the files are deleted
// (DELETE /v1/files/{id}) and the page cache's dirty pages flushed (sync),
// so that no run pays for another's writeback.
//
// Usage (from the module's root; `make bench-peers` builds the binaries and
// runs the default set):
//
//	go run ./scripts/benchpeers --uploads bin/uploads --sdkput bin/sdkput \
//	  --sizes 256MiB,512MiB,1GiB --loopback-sizes 1GiB --runs 3
//
// Without --uploads or --sdkput it builds them with `go build`. Progress goes
// to stderr, the tables to stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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

type options struct {
	uploads, sdkput, curlScript string
	time                        benchkit.GNUTime
	sizes                       []int64 // of the files scenario in the far setting
	loopbackSizes               []int64
	settings                    []string
	tools                       []string
	scenarios                   []string
	runs                        int
	latency                     time.Duration
	throttle                    int64  // bytes per second per connection, in the far setting
	throttleArg                 string // as given
	linkThrottle                int64  // bytes per second of all connections together, in the link setting
	linkThrottleArg             string // as given
	tls                         bool   // uploads serve --tls in every setting
	curlHTTP                    string // the curl script's HTTP_VERSION: 1.1, 2, or "" for curl's default
	curlVersion                 string // the first line of curl -V, for the report
	manyCount                   int
	manySize                    int64
	jobs                        int
	workDir                     string
	args                        []string // as given, for the report
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

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("benchpeers", flag.ContinueOnError)
	c := &options{args: args}
	var sizes, loopbackSizes, sets, toolList, scenarios, many string
	fs.StringVar(&c.uploads, "uploads", "", "the uploads binary (default: go build ./cmd/uploads)")
	fs.StringVar(&c.sdkput, "sdkput", "", "the sdkput binary (default: go build ./scripts/sdkput)")
	fs.StringVar(&c.curlScript, "curl-script", "scripts/curl-upload.sh", "the curl recipe's script (tool curl)")
	fs.StringVar(&c.time.Path, "time", "/usr/bin/time", "GNU time, which starts each tool and reports its rusage")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where the test files, the server's data and curl's parts go")
	fs.StringVar(&scenarios, "scenarios", "files,many", "what to measure, comma-separated: files (one file of each size), many (--many files with --jobs, in the far setting)")
	fs.StringVar(&sizes, "sizes", "256MiB,512MiB,1GiB", "file sizes of the files scenario in the far and link settings, comma-separated")
	fs.StringVar(&loopbackSizes, "loopback-sizes", "1GiB", "file sizes of the files scenario in the loopback setting (for information), comma-separated")
	fs.StringVar(&sets, "settings", "far,loopback", "server settings, comma-separated: far (per-connection cap), link (one cap shared by all connections), loopback")
	fs.BoolVar(&c.tls, "tls", true, "serve over HTTPS (uploads serve --tls, HTTP/2 offered by ALPN) in every setting; --tls=false for plain HTTP, for comparison")
	fs.StringVar(&c.curlHTTP, "curl-http", "1.1", "the HTTP version of the curl tool: 1.1 (--http1.1), 2 (--http2), or auto (curl's choice: HTTP/2 over TLS)")
	fs.StringVar(&toolList, "tools", strings.Join(defaultTools, ","), "tools of the files scenario, comma-separated: "+strings.Join(runOrder, ", "))
	fs.IntVar(&c.runs, "runs", 3, "runs of each tool per size and setting (time, CPU, utilization: the median; RSS: the largest)")
	fs.DurationVar(&c.latency, "latency", 20*time.Millisecond, "the delay the far and link settings' server adds to every request")
	fs.StringVar(&c.throttleArg, "throttle", "10MiB", "the far setting's cap on each TCP connection's upload rate, per second")
	fs.StringVar(&c.linkThrottleArg, "link-throttle", "80MiB", "the link setting's cap on all connections' upload rate together, per second")
	fs.StringVar(&many, "many", "200x1MiB", "the many scenario's files: COUNTxSIZE")
	fs.IntVar(&c.jobs, "jobs", 0, "uploads put --jobs in the many scenario (0: put's default)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.runs < 1 || c.jobs < 0 {
		return nil, errors.New("--runs must be at least 1 and --jobs not negative")
	}
	var err error
	if c.throttle, err = units.ParseSize(c.throttleArg); err != nil || c.throttle <= 0 {
		return nil, fmt.Errorf("--throttle: %q is not a size", c.throttleArg)
	}
	switch c.curlHTTP {
	case "1.1", "2":
	case "auto":
		c.curlHTTP = ""
	default:
		return nil, fmt.Errorf("--curl-http: %q is not 1.1, 2 or auto", c.curlHTTP)
	}
	if c.linkThrottle, err = units.ParseSize(c.linkThrottleArg); err != nil || c.linkThrottle <= 0 {
		return nil, fmt.Errorf("--link-throttle: %q is not a size", c.linkThrottleArg)
	}
	if c.latency < 0 {
		return nil, fmt.Errorf("--latency %v must not be negative", c.latency)
	}
	count, size, ok := strings.Cut(many, "x")
	if c.manyCount, err = strconv.Atoi(count); !ok || err != nil || c.manyCount < 1 {
		return nil, fmt.Errorf("--many: %q is not COUNTxSIZE, such as 200x1MiB", many)
	}
	if c.manySize, err = units.ParseSize(size); err != nil || c.manySize <= 0 {
		return nil, fmt.Errorf("--many: %q is not COUNTxSIZE, such as 200x1MiB", many)
	}
	if c.sizes, err = parseSizes("--sizes", sizes); err != nil {
		return nil, err
	}
	if c.loopbackSizes, err = parseSizes("--loopback-sizes", loopbackSizes); err != nil {
		return nil, err
	}
	if c.settings, err = pick("--settings", sets, settingOrder); err != nil {
		return nil, err
	}
	if c.tools, err = pick("--tools", toolList, runOrder); err != nil {
		return nil, err
	}
	if c.scenarios, err = pick("--scenarios", scenarios, []string{"files", "many"}); err != nil {
		return nil, err
	}
	if len(c.settings) == 0 || len(c.scenarios) == 0 || (c.has("files") && (len(c.allSizes()) == 0 || len(c.tools) == 0)) {
		return nil, errors.New("--settings, --scenarios, and for files the sizes and --tools, must each name at least one")
	}
	if c.has("many") && !c.inSetting("far") {
		return nil, errors.New("the many scenario runs in the far setting: add far to --settings, or leave many out of --scenarios")
	}
	return c, nil
}

func parseSizes(flagName, list string) ([]int64, error) {
	var out []int64
	for _, s := range splitList(list) {
		n, err := units.ParseSize(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a size", flagName, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// sizesOf are the file sizes measured in setting: --loopback-sizes on
// loopback, --sizes in far and link.
func (c *options) sizesOf(setting string) []int64 {
	if setting == "loopback" {
		return c.loopbackSizes
	}
	return c.sizes
}

// allSizes are the file sizes of every selected setting, in order, once.
func (c *options) allSizes() []int64 {
	var all []int64
	for _, setting := range c.settings {
		all = append(all, c.sizesOf(setting)...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// pick parses a comma-separated list of names out of known.
func pick(flagName, list string, known []string) ([]string, error) {
	var out []string
	for _, s := range splitList(list) {
		if !slices.Contains(known, s) {
			return nil, fmt.Errorf("%s: unknown %q (%s)", flagName, s, strings.Join(known, ", "))
		}
		out = append(out, s)
	}
	return out, nil
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

func (c *options) uses(tool string) bool         { return slices.Contains(c.tools, tool) }
func (c *options) has(scenario string) bool      { return slices.Contains(c.scenarios, scenario) }
func (c *options) inSetting(setting string) bool { return slices.Contains(c.settings, setting) }

func run(ctx context.Context, c *options) error {
	work, err := os.MkdirTemp(c.workDir, "benchpeers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := c.prepare(ctx, work); err != nil {
		return err
	}
	m := describeMachine(c.workDir)
	logf("%s", m.line)
	if m.load1 >= 1.0 {
		logf("warning: the 1-minute load average is %.2f: the machine is busy, the figures will be noisy", m.load1)
	}

	res := &results{files: map[cellKey][]result{}, many: map[manyKey][]result{}}
	start := time.Now()
	load := sampleLoad(10 * time.Second)
	if c.has("files") {
		err = c.measureFiles(ctx, work, res)
	}
	if err == nil && c.has("many") {
		err = c.measureMany(ctx, work, res)
	}
	// What was measured is printed even after a failure.
	fmt.Print(report(c, m, load.Stop(), res, time.Since(start)))
	return err
}

// prepare builds the binaries that were not given and checks the tools.
func (c *options) prepare(ctx context.Context, work string) error {
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
	for _, p := range []*string{&c.uploads, &c.sdkput, &c.curlScript, &c.time.Path} {
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
	if c.uses("curl") {
		out, err := exec.CommandContext(ctx, "curl", "-V").Output()
		if err != nil {
			return fmt.Errorf("curl -V: %w", err)
		}
		c.curlVersion, _, _ = strings.Cut(string(out), "\n")
	}
	return c.time.Check(ctx)
}

// startServer starts a fresh `uploads serve` in setting, with its data in
// a new directory under work; stop stops it and removes the data.
func (c *options) startServer(ctx context.Context, work, setting string) (srv *benchkit.Server, stop func(), err error) {
	dataDir, err := os.MkdirTemp(work, "data-"+setting+"-")
	if err != nil {
		return nil, nil, err
	}
	srv, err = benchkit.StartServer(ctx, c.uploads, dataDir, childEnv(dataDir), serverFlags(c, setting)...)
	if err != nil {
		_ = os.RemoveAll(dataDir)
		return nil, nil, err
	}
	return srv, func() {
		srv.Stop()
		_ = os.RemoveAll(dataDir)
	}, nil
}

// childEnv is this process's environment less anything that would change
// what is measured (benchkit.CleanEnv) and less TMPDIR, plus extra; XDG
// directories point into dir.
func childEnv(dir string, extra ...string) []string {
	env := append(benchkit.CleanEnv("TMPDIR"), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	return append(env, extra...)
}

// checkRoom fails if dir's file system cannot hold need bytes and 1 GiB
// spare.
func checkRoom(dir string, need int64, what string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if need += 1 << 30; free < need {
		return fmt.Errorf("%s has %s free; %s needs %s (1 GiB of it spare)", dir, units.FormatSize(free), what, units.FormatSize(need))
	}
	return nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchpeers: "+format+"\n", a...)
}
