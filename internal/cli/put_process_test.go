package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// latency is a servertest wrapper that delays every request by d.
func latency(d time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler { return faults.Latency(d, h) }
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// uploadsBinary builds cmd/uploads once per test process.
func uploadsBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "uploads-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "uploads")
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command(goBin, "build", "-o", binPath, "github.com/uploads-dev/uploads/cmd/uploads").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, binPath)
	}
	return binPath
}

type putEvent struct {
	V           int    `json:"v"`
	Event       string `json:"event"`
	Message     string `json:"message"`
	Resume      string `json:"resume"`
	NotStarted  *int   `json:"not_started"`
	Interrupted *int   `json:"interrupted"`
	ExitCode    *int   `json:"exit_code"`
	Part        int    `json:"part"`
	PartsDone   int    `json:"parts_done"`
	Resumed     bool   `json:"resumed"`
	FileID      string `json:"file_id"`
}

// putProcess runs `uploads put` with JSON progress on stderr, calling on for
// each event as it arrives.
type putProcess struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	events []putEvent
	raw    strings.Builder
	done   chan struct{}
}

func startPut(t *testing.T, s *servertest.Server, env []string, on func(*putProcess, putEvent), args ...string) *putProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := &putProcess{done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, uploadsBinary(t), append([]string{"put", "--progress", "json"}, args...)...)
	base := []string{"OPENAI_BASE_URL=" + s.BaseURL, "OPENAI_API_KEY=sk-test"}
	if s.CAFile != "" {
		// Over HTTPS, the server's certificate is trusted as a user of a
		// private CA would on Linux: Go reads SSL_CERT_FILE.
		base = append(base, "SSL_CERT_FILE="+s.CAFile)
	}
	p.cmd.Env = append(os.Environ(), append(base, env...)...)
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.raw.WriteString(sc.Text() + "\n")
			var e putEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event != "" {
				p.events = append(p.events, e)
				if on != nil {
					on(p, e)
				}
			}
		}
	}()
	return p
}

// wait returns the exit code once the process ended and its stderr is read.
func (p *putProcess) wait(t *testing.T) int {
	t.Helper()
	<-p.done
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func (p *putProcess) parts(kind string) map[int]bool {
	m := map[int]bool{}
	for _, e := range p.events {
		if e.Event == kind {
			m[e.Part] = true
		}
	}
	return m
}

func sampleFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func checkContent(t *testing.T, s *servertest.Server, stdout string, data []byte) {
	t.Helper()
	id := strings.TrimSpace(stdout)
	if !strings.HasPrefix(id, "file-") {
		t.Fatalf("stdout = %q, want the file id", stdout)
	}
	r := s.Do(t, "GET", "/files/"+id+"/content", "sk-test", nil, "")
	if md5.Sum(r.Body) != md5.Sum(data) {
		t.Fatalf("the server's content (%d bytes) differs from the source", len(r.Body))
	}
}

// A put killed with SIGKILL and run again resumes, and sends again only the
// parts that were in flight when it died.
func TestPutResumesAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bothModes(t, testPutResumesAfterSIGKILL)
}

// serverMode is how a process test reaches the bundled server.
type serverMode struct {
	name   string
	strict bool // only the real service's documented API
	https  bool // over TLS with HTTP/2 offered, as the real service's edge
}

// modes are the default mode over HTTP, and strict mode both over HTTP and
// over HTTPS with HTTP/2 offered: what users of the real service meet.
var modes = []serverMode{{"default", false, false}, {"strict", true, false}, {"strict-https", true, true}}

// bothModes runs f against each of modes.
func bothModes(t *testing.T, f func(t *testing.T, m serverMode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// start starts the in-process server in mode m.
func (m serverMode) start(t *testing.T, wraps ...func(http.Handler) http.Handler) *servertest.Server {
	t.Helper()
	if m.https {
		return servertest.StartTLS(t, server.Config{Strict: m.strict}, wraps...)
	}
	return servertest.Start(t, server.Config{Strict: m.strict}, wraps...)
}

func testPutResumesAfterSIGKILL(t *testing.T, m serverMode) {
	s := m.start(t, latency(20*time.Millisecond))
	path, data := sampleFile(t, 24<<20)
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	args := []string{path, "--purpose", "video", "--part-size", "512KiB", "--concurrency", "4"}

	var once sync.Once
	first := startPut(t, s, env, func(p *putProcess, e putEvent) {
		if e.Event == "part_done" && e.PartsDone >= 16 {
			once.Do(func() { _ = p.cmd.Process.Kill() })
		}
	}, args...)
	if code := first.wait(t); code != -int(syscall.SIGKILL) {
		t.Fatalf("first run exit %d, want killed; stderr:\n%s", code, first.raw.String())
	}
	started1, done1 := first.parts("part_started"), first.parts("part_done")

	second := startPut(t, s, env, nil, args...)
	if code := second.wait(t); code != 0 {
		t.Fatalf("second run exit %d; stderr:\n%s", code, second.raw.String())
	}
	if len(second.events) == 0 || !second.events[0].Resumed {
		t.Fatalf("the second run did not resume: %s", second.raw.String())
	}
	started2 := second.parts("part_started")
	resent := 0
	for part := range started2 {
		if done1[part] {
			t.Fatalf("part %d was acknowledged before the kill and sent again", part)
		}
		if started1[part] {
			resent++
		}
	}
	if resent > 4 {
		t.Fatalf("%d parts that the first run had started were sent again; at most the 4 in flight may be", resent)
	}
	t.Logf("first run: %d parts acknowledged, %d started; second run re-sent %d in-flight parts and %d new ones",
		len(done1), len(started1), resent, len(started2)-resent)
	checkContent(t, s, second.stdout.String(), data)
}

// Ctrl-C stops a put within a second or two with exit 130, keeps a journal
// that resumes, and says how to resume.
func TestPutInterruptedExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bothModes(t, testPutInterruptedExits130)
}

// The API key given with --api-key: never printed, never journaled.
const secretKey = "sk-test"

func testPutInterruptedExits130(t *testing.T, m serverMode) {
	s := m.start(t, latency(20*time.Millisecond))
	path, data := sampleFile(t, 16<<20)
	state := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + state}
	args := []string{path, "--purpose", "video", "--part-size", "512KiB", "--concurrency", "2", "--api-key", secretKey}

	var once sync.Once
	var signaled time.Time
	first := startPut(t, s, env, func(p *putProcess, e putEvent) {
		if e.Event == "part_done" && e.PartsDone >= 5 {
			once.Do(func() { signaled = time.Now(); _ = p.cmd.Process.Signal(os.Interrupt) })
		}
	}, args...)
	code := first.wait(t)
	if code != 130 {
		t.Fatalf("exit %d after Ctrl-C, want 130; stderr:\n%s", code, first.raw.String())
	}
	if took := time.Since(signaled); took > 5*time.Second {
		t.Fatalf("took %v to stop after Ctrl-C", took)
	}
	stderr := first.raw.String()
	// In JSON mode stderr is JSON lines only; the interruption is an event
	// that says how to resume.
	last := first.events[len(first.events)-1]
	if last.V != 1 || last.Event != "interrupted" || last.ExitCode == nil || *last.ExitCode != 130 ||
		!strings.HasPrefix(last.Message, "interrupted: ") ||
		!strings.HasPrefix(last.Resume, "uploads put --progress json "+path+" --purpose video --part-size 512KiB --concurrency 2 (with the same API key in OPENAI_API_KEY") {
		t.Fatalf("the last event does not say how to resume: %+v\n%s", last, stderr[max(0, len(stderr)-1500):])
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, `{"v":1,`) {
			t.Fatalf("a line of stderr in JSON mode is not a JSON event: %q", line)
		}
	}
	if strings.Contains(stderr, secretKey) {
		t.Fatalf("the API key is printed:\n%s", stderr[max(0, len(stderr)-1500):])
	}
	if first.stdout.Len() != 0 {
		t.Fatalf("stdout after an interrupt: %q", first.stdout.String())
	}
	journals, _ := filepath.Glob(filepath.Join(state, "uploads", "*.json"))
	if len(journals) != 1 {
		t.Fatalf("journals after Ctrl-C: %v", journals)
	}
	if b, err := os.ReadFile(journals[0]); err != nil || bytes.Contains(b, []byte(secretKey)) {
		t.Fatalf("the journal holds the API key (or cannot be read: %v)", err)
	}
	second := startPut(t, s, env, nil, args...)
	if code := second.wait(t); code != 0 || !second.events[0].Resumed {
		t.Fatalf("resume: exit %d; stderr:\n%s", code, second.raw.String())
	}
	checkContent(t, s, second.stdout.String(), data)
	if journals, _ := filepath.Glob(filepath.Join(state, "uploads", "*.json")); len(journals) != 0 {
		t.Fatalf("journal left after success: %v", journals)
	}
	_ = io.Discard
}

// Ctrl-C during a put of several files: the file in flight keeps its
// journal, the files not yet started are "not started", not failures, and
// one command resumes the whole set.
func TestPutOfSeveralFilesInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	s := servertest.StartTLS(t, server.Config{Strict: true}, latency(20*time.Millisecond))
	dir := t.TempDir()
	var files []string
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("clip%d.mp4", i))
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 8<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	state := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + state}
	args := append(files, "--purpose", "video", "--part-size", "512KiB", "--concurrency", "1", "--jobs", "1")
	var once sync.Once
	p := startPut(t, s, env, func(p *putProcess, e putEvent) {
		if e.Event == "part_done" && e.PartsDone >= 2 {
			once.Do(func() { _ = p.cmd.Process.Signal(os.Interrupt) })
		}
	}, args...)
	if code := p.wait(t); code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, p.raw.String())
	}
	var interrupted, summary *putEvent
	for i := range p.events {
		switch p.events[i].Event {
		case "interrupted":
			interrupted = &p.events[i]
		case "summary":
			summary = &p.events[i]
		case "failed":
			t.Fatalf("a file failed: %+v", p.events[i])
		}
	}
	if interrupted == nil || !strings.HasPrefix(interrupted.Resume, "uploads put --progress json "+files[0]+" "+files[1]+" "+files[2]) {
		t.Fatalf("interrupted event %+v; stderr:\n%s", interrupted, p.raw.String())
	}
	if summary == nil || summary.NotStarted == nil || *summary.NotStarted != 2 || *summary.Interrupted != 1 {
		t.Fatalf("summary %+v; stderr:\n%s", summary, p.raw.String())
	}

	// The resume command it printed uploads them all: each file once, with
	// its bytes, the interrupted one going on from its acknowledged parts.
	resume := strings.Fields(interrupted.Resume)
	if len(resume) < 4 || strings.Join(resume[:4], " ") != "uploads put --progress json" {
		t.Fatalf("resume command %q", interrupted.Resume)
	}
	r := startPut(t, s, env, nil, resume[4:]...)
	if code := r.wait(t); code != 0 {
		t.Fatalf("resume: exit %d; stderr:\n%s", code, r.raw.String())
	}
	resumed := 0
	for _, e := range r.events {
		if e.Resumed {
			resumed++
		}
		if e.Event == "failed" {
			t.Fatalf("resume: a file failed: %+v", e)
		}
	}
	if resumed == 0 {
		t.Errorf("no event of the resume says it resumed the interrupted file; stderr:\n%s", r.raw.String())
	}
	list := s.Do(t, "GET", "/files?purpose=video", "sk-test", nil, "")
	var onServer struct {
		Data []struct {
			ID       string `json:"id"`
			Filename string `json:"filename"`
			Bytes    int64  `json:"bytes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(list.Body, &onServer); err != nil {
		t.Fatalf("files list %d %s: %v", list.Status, list.Body, err)
	}
	byName := map[string]int{}
	for _, f := range onServer.Data {
		byName[f.Filename]++
		var i int
		if _, err := fmt.Sscanf(f.Filename, "clip%d.mp4", &i); err != nil || i < 0 || i > 2 {
			t.Fatalf("unexpected file %+v on the server", f)
		}
		got := s.Do(t, "GET", "/files/"+f.ID+"/content", "sk-test", nil, "")
		if !bytes.Equal(got.Body, bytes.Repeat([]byte{byte(i)}, 8<<20)) {
			t.Errorf("%s (%s): the server's %d bytes differ from the source", f.Filename, f.ID, len(got.Body))
		}
	}
	for i := range 3 {
		if n := byName[fmt.Sprintf("clip%d.mp4", i)]; n != 1 {
			t.Errorf("clip%d.mp4 is on the server %d times, want once (files %+v)", i, n, onServer.Data)
		}
	}
	if ids := strings.Count(p.stdout.String()+r.stdout.String(), "file-"); ids != 3 {
		t.Errorf("the two runs printed %d file ids, want 3: %q then %q", ids, p.stdout.String(), r.stdout.String())
	}
}
