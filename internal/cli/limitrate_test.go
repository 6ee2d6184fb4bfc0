package cli_test

import (
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// `uploads put --limit-rate` holds its cap: 8 MiB at 4 MiB/s over 4
// connections. The limiter lets through at most its burst (a tenth of a
// second of the rate) plus the rate for the time elapsed, whatever the
// machine's load, so the process, from its start to its end, cannot take
// less than (8 MiB - burst) / 4 MiB/s, 1.9 s: a cap that leaks (or is not
// applied) fails here. Load only slows the upload, so the other bound is
// loose: the whole process within 4 times the nominal 2 s.
func TestPutLimitRateHoldsTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and uploads for 2 s")
	}
	const size, capRate = 8 << 20, 4 << 20
	s := servertest.Start(t, server.Config{Strict: true})
	path, data := sampleFile(t, size)
	uploadsBinary(t) // built before the clock starts
	begin := time.Now()
	p := startPut(t, s, []string{"XDG_STATE_HOME=" + t.TempDir()}, nil, path, "--purpose", "video",
		"--limit-rate", "4MiB", "--concurrency", "4", "--part-size", "1MiB")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.raw.String())
	}
	took := time.Since(begin)
	checkContent(t, s, p.stdout.String(), data)
	const burst = capRate / 10
	least := time.Duration(size-burst) * time.Second / capRate
	t.Logf("%d MiB at --limit-rate 4MiB took %v (at least %v by the cap; %.2f MiB/s)", size>>20, took, least, float64(size)/(1<<20)/took.Seconds())
	if took < least {
		t.Fatalf("%d MiB went in %v, faster than the cap allows (at least %v): %.2f MiB/s against 4 MiB/s",
			size>>20, took, least, float64(size)/(1<<20)/took.Seconds())
	}
	if nominal := time.Duration(size) * time.Second / capRate; took > 4*nominal {
		t.Fatalf("%d MiB took %v at --limit-rate 4MiB, more than 4 times the %v the cap allows", size>>20, took, nominal)
	}
}
