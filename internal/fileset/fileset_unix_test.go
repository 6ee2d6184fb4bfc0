//go:build unix

package fileset

import (
	"strings"
	"syscall"
	"testing"
)

func TestNonRegularFilesAreSkipped(t *testing.T) {
	chdir(t, map[string]string{"d/a.txt": "a"})
	if err := syscall.Mkfifo("d/fifo", 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	s := expand(t, []string{"d"}, Options{Recursive: true})
	same(t, "paths", paths(s), []string{"d/a.txt"})
	if r := skipped(s)["d/fifo"]; !strings.Contains(r, "FIFO") || len(s.Skipped) != 1 {
		t.Fatalf("skipped = %+v", s.Skipped)
	}
	// Named, it is an error.
	if _, err := Expand([]string{"d/fifo"}, Options{}); err == nil || !strings.Contains(err.Error(), "d/fifo: cannot be uploaded: named pipe") {
		t.Fatalf("err = %v", err)
	}
}
