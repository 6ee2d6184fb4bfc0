package cli_test

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// A CI job that runs `uploads put DIR -r` and is killed (SIGKILL, with
// nothing printed, or SIGINT) at random moments, then retried with the same
// command, against a strict HTTPS server that fails 15 % of the creates,
// parts and completes, ends with each file on the server exactly once: no
// extra copies, none missing, every byte right — without --skip-existing.
// UPLOADS_KILL_SEEDS=N runs N seeds instead of 3.
func TestRetriedJobUploadsEachFileOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	seeds := 3
	if s, err := strconv.Atoi(os.Getenv("UPLOADS_KILL_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { testRetriedJob(t, uint64(seed)) })
	}
}

func testRetriedJob(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	inj, err := faults.New(faults.Config{Rate: 0.15, Seed: seed, Endpoints: []faults.Endpoint{faults.Create, faults.Parts, faults.Complete},
		Kinds: []faults.Kind{faults.Status500, faults.Status503, faults.Drop, faults.Lost}})
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.StartTLS(t, server.Config{Strict: true}, inj.Wrap, latency(2*time.Millisecond))
	dir := filepath.Join(t.TempDir(), "set")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	want := map[[16]byte]string{}
	for i := range 10 {
		data := make([]byte, 64<<10+rng.IntN(2<<20))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		name := filepath.Join(dir, fmt.Sprintf("f%02d.mp4", i))
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want[md5.Sum(data)] = name
	}
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	args := []string{dir, "-r", "--purpose", "video", "--jobs", "3", "--part-size", "256KiB", "--concurrency", "2", "--retries", "20"}
	attempts, kills := 0, 0
	for ; attempts < 15; attempts++ {
		final := attempts >= 8 // the last attempts run to their end
		after := 1 + rng.IntN(12)
		sig := syscall.SIGKILL
		if rng.IntN(4) == 0 {
			sig = syscall.SIGINT
		}
		var once sync.Once
		n := 0
		p := startPut(t, s, env, func(p *putProcess, e putEvent) {
			if final || (e.Event != "part_done" && e.Event != "completed") {
				return
			}
			if n++; n == after {
				once.Do(func() { _ = p.cmd.Process.Signal(sig) })
			}
		}, args...)
		code := p.wait(t)
		if code == 0 {
			break
		}
		if code == -int(syscall.SIGKILL) || code == 130 {
			kills++
			continue
		}
		if !final {
			continue // a failure after the retries: the job is retried too
		}
		t.Logf("attempt %d exit %d; stderr:\n%s", attempts, code, p.raw.String())
	}
	r := s.Do(t, "GET", "/files?purpose=video&limit=10000", "sk-test", nil, "")
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatal(err)
	}
	got := map[[16]byte]int{}
	for _, f := range list.Data {
		c := s.Do(t, "GET", "/files/"+f.ID+"/content", "sk-test", nil, "")
		sum := md5.Sum(c.Body)
		if _, ok := want[sum]; !ok {
			t.Errorf("file %s on the server matches no source file (wrong bytes)", f.ID)
		}
		got[sum]++
	}
	extra, missing := 0, 0
	for sum, name := range want {
		switch n := got[sum]; {
		case n == 0:
			missing++
			t.Errorf("%s is not on the server", name)
		case n > 1:
			extra += n - 1
			t.Errorf("%s is on the server %d times", name, n)
		}
	}
	t.Logf("seed %d: %d attempts (%d interrupted), %d files on the server, %d extra, %d missing, %d faults injected",
		seed, attempts+1, kills, len(list.Data), extra, missing, inj.Injected())
}
