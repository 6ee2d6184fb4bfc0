package bench

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
)

// TEMPORARY: profile the server in-process while the child uploads.
func TestZZServerProfile(t *testing.T) {
	if os.Getenv("PROFILE_OUT") == "" {
		t.Skip()
	}
	b := &testing.B{}
	_ = b
	uploads, sdkput := binariesT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	o := server.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Ready: func(u string) { ready <- u }}
	o.Logger = slog.New(slog.DiscardHandler)
	if os.Getenv("THROTTLE") != "" {
		o.Throttle = 40 << 20
	}
	go func() { _ = server.Run(ctx, o) }()
	base := <-ready
	size := int64(1 << 30)
	args := []string{"put", "", "--purpose", "video", "--part-size", "64MiB", "--concurrency", "8", "--progress", "none"}
	if os.Getenv("THROTTLE") != "" {
		size = 256 << 20
		args[5] = "16MiB"
	}
	path := os.Getenv("SRC")
	args[1] = path
	bin := uploads
	if os.Getenv("SDK") != "" {
		bin = sdkput
		args = []string{"--file", path, "--purpose", "video", "--part-size", "64MiB", "--mime-type", "video/mp4"}
	}
	_ = size
	pf, _ := os.Create(os.Getenv("PROFILE_OUT"))
	pprof.StartCPUProfile(pf)
	for range 2 {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+base, "OPENAI_API_KEY=sk-x", "XDG_STATE_HOME="+t.TempDir())
		cmd.Stderr = os.Stderr
		st := time.Now()
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %v user %v sys %v", out, time.Since(st), cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime())
	}
	pprof.StopCPUProfile()
	pf.Close()
}

func binariesT(t *testing.T) (string, string) {
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/uploads-dev/uploads/cmd/uploads", "github.com/uploads-dev/uploads/scripts/sdkput").CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	return dir + "/uploads", dir + "/sdkput"
}
