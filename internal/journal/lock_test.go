package journal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A released lock leaves no file: a run of many files does not litter the
// journal directory with one lock file per file.
func TestUnlockRemovesTheLockFile(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	for i := range 50 {
		l, err := s.Lock(fmt.Sprintf("key%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil { // twice: nothing more happens
			t.Fatal(err)
		}
	}
	if des, _ := os.ReadDir(s.Dir); len(des) != 0 {
		t.Fatalf("after Unlock the directory holds %d entries, want none", len(des))
	}
}

// A second Unlock must not remove a lock file that another holder created
// since: that would let a third in beside it.
func TestUnlockTwiceLeavesTheNextHolderAlone(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	a, err := s.Lock("k")
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Unlock()
	b, err := s.Lock("k")
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Unlock()
	if _, err := s.Lock("k"); !IsLocked(err) {
		t.Fatalf("Lock while b holds it = %v, want a LockedError", err)
	}
	_ = b.Unlock()
}

// Lockers racing on one key never hold it together, and leave nothing
// behind. Each Lock opens its own descriptor, and flock locks belong to
// the open file, so goroutines contend as processes do.
func TestLockersNeverHoldTogether(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	var holders, taken, refused atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(500 * time.Millisecond)
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				l, err := s.Lock("k")
				if IsLocked(err) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				taken.Add(1)
				runtime.Gosched()
				holders.Add(-1)
				if err := l.Unlock(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if taken.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("taken %d, refused %d: the lockers did not contend", taken.Load(), refused.Load())
	}
	if des, _ := os.ReadDir(s.Dir); len(des) != 0 {
		t.Fatalf("the directory holds %d entries after the last Unlock, want none", len(des))
	}
}

// The same across processes: each holder creates a marker file with
// O_EXCL and removes it before Unlock; a marker already there means two
// holders.
func TestLockersInProcessesNeverHoldTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
		cmd.Env = append(os.Environ(), "JOURNAL_LOCK_HELPER="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("a locker process: %v", err)
		}
	}
	if des, _ := os.ReadDir(filepath.Join(dir, "journals")); len(des) != 0 {
		t.Errorf("the journal directory holds %d entries after the last Unlock, want none", len(des))
	}
	b, _ := os.ReadFile(filepath.Join(dir, "taken"))
	if len(b) == 0 {
		t.Error("no process took the lock")
	}
}

// TestLockHelperProcess is one locker of TestLockersInProcessesNeverHoldTogether.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("JOURNAL_LOCK_HELPER")
	if dir == "" {
		t.Skip("run by TestLockersInProcessesNeverHoldTogether")
	}
	s := &Store{Dir: filepath.Join(dir, "journals")}
	marker := filepath.Join(dir, "held")
	taken := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		l, err := s.Lock("k")
		if IsLocked(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatalf("two holders at once: %v", err)
		}
		_ = f.Close()
		taken++
		if err := os.Remove(marker); err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "taken"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _ = f.WriteString(strconv.Itoa(taken) + "\n")
	if des, _ := os.ReadDir(s.Dir); len(des) > 1 {
		t.Errorf("the journal directory holds %d entries", len(des))
	}
}
