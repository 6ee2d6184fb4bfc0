package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Usage is what one child process cost.
type Usage struct {
	Elapsed time.Duration // from starting the child to its exit
	PeakRSS int64         // bytes: ru_maxrss, the largest of the child and its waited-for descendants
	CPU     time.Duration // user + system time of the child and its waited-for descendants
}

// GNUTime runs commands under GNU time (/usr/bin/time) and reads their
// rusage from what it writes.
//
// Not from exec.Cmd.ProcessState: Go starts children with clone(CLONE_VM|
// CLONE_VFORK), and on exec Linux folds the peak RSS of the mm the child was
// using, the parent's, into the child's ru_maxrss. A child of a Go process
// thus reports at least its parent's peak RSS (measured: md5sum of an empty
// file "peaks" at 203 MiB when started by a Go process that has touched 200
// MiB, 1.6 MiB when started by GNU time, which forks). GNU time forks, so a
// tool's figure has a floor of about 1 MiB (time's own), and for a bash
// script bash's few MiB. On Linux the rusage that wait4 returns for a
// process includes its waited-for descendants (ru_maxrss is the largest of
// them, the CPU times their sum), so a script's figures cover every program
// it ran.
type GNUTime struct {
	Path string // "" means /usr/bin/time
}

func (t GNUTime) path() string {
	if t.Path == "" {
		return "/usr/bin/time"
	}
	return t.Path
}

// Check fails unless Path is GNU time.
func (t GNUTime) Check(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, t.path(), "-f", "%M %U %S", "true").CombinedOutput()
	if err != nil || len(strings.Fields(string(out))) != 3 {
		return fmt.Errorf("%s does not look like GNU time (apt-get install time): %v %s", t.path(), err, out)
	}
	return nil
}

// Run runs name with args under GNU time, in dir (where time writes its
// report, in a file of its own) with the environment env, and returns what it
// cost. The child gets its own process group, which cancelling ctx kills, so
// that a script's children stop too. stdout and stderr may be nil.
func (t GNUTime) Run(ctx context.Context, dir string, env []string, stdout, stderr io.Writer, name string, args ...string) (Usage, error) {
	report, err := os.CreateTemp(dir, "rusage-")
	if err != nil {
		return Usage{}, err
	}
	reportPath := report.Name()
	report.Close()
	defer os.Remove(reportPath)
	cmd := exec.CommandContext(ctx, t.path(), append([]string{"-f", "%M %U %S", "-o", reportPath, "--", name}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	start := time.Now()
	err = cmd.Run()
	u := Usage{Elapsed: time.Since(start)}
	if err != nil {
		return u, fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	u.PeakRSS, u.CPU, err = readUsage(reportPath)
	return u, err
}

// readUsage reads what `time -f "%M %U %S"` wrote: the peak RSS in KiB,
// user and system time in seconds.
func readUsage(path string) (peakRSS int64, cpu time.Duration, err error) {
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
