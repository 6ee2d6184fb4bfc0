package server_test

// Durability of the real `uploads serve` process: SIGKILL it while parts are
// in flight, restart it on the same data directory, and check that nothing
// acknowledged was lost and nothing half-written appeared.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	crashKey       = "sk-crash"
	crashPartSize  = 1 << 20
	crashParts     = 24
	crashWorkers   = 4
	crashKillRound = 3
)

// TestServeProcess builds the real binary once and runs the tests that need
// a separate server process.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin := crashBuild(t)
	t.Run("SurvivesKillDuringParts", func(t *testing.T) { testSurvivesKill(t, bin) })
	t.Run("DataDirInUse", func(t *testing.T) { testDataDirInUse(t, bin) })
}

// crashBuild compiles ./cmd/uploads into a temporary directory.
func crashBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "uploads")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/uploads-dev/uploads/cmd/uploads")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// crashProc is one running `uploads serve`.
type crashProc struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT/v1
	client  *http.Client
	stdout  *lockedBuffer
	stderr  *lockedBuffer
	done    chan struct{}
	waitErr error
}

// crashStartProc starts `uploads serve` on dir without waiting for it.
func crashStartProc(t *testing.T, bin, dir string) *crashProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p := &crashProc{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--quiet")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		cancel()
		if p.client != nil {
			p.client.CloseIdleConnections()
		}
	})
	return p
}

// crashServe starts `uploads serve` on dir and waits until it answers.
func crashServe(t *testing.T, bin, dir string) *crashProc {
	t.Helper()
	p := crashStartProc(t, bin, dir)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if line, _, ok := strings.Cut(p.stdout.String(), "\n"); ok {
			p.base = strings.TrimSpace(line)
			break
		}
		select {
		case <-p.done:
			t.Fatalf("server exited before printing its URL (%v); stderr:\n%s", p.waitErr, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server printed no URL within 10s; stderr:\n%s", p.stderr)
		}
	}
	if !strings.HasPrefix(p.base, "http://127.0.0.1:") || !strings.HasSuffix(p.base, "/v1") {
		t.Fatalf("first line of stdout is %q, want http://127.0.0.1:PORT/v1", p.base)
	}
	p.client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers}}
	health := strings.TrimSuffix(p.base, "/v1") + "/healthz"
	for {
		res, err := p.client.Get(health)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s did not answer 200 within 10s (last error %v); stderr:\n%s", health, err, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *crashProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not die within 10s of SIGKILL")
	}
}

// do sends one request; it returns the status and body, or an error when the
// answer was lost.
func (p *crashProc) do(method, path string, body []byte, contentType string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+crashKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// must sends a request that has to succeed with 200 and a JSON answer.
func (p *crashProc) must(t *testing.T, method, path string, body any, v any) []byte {
	t.Helper()
	var b []byte
	ct := ""
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		ct = "application/json"
	}
	status, answer, err := p.do(method, path, b, ct)
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s %s: %d %v\n%s", method, path, status, err, answer)
	}
	if v != nil {
		if err := json.Unmarshal(answer, v); err != nil {
			t.Fatalf("%s %s: answer is not the JSON expected: %v\n%s", method, path, err, answer)
		}
	}
	return answer
}

func crashMD5(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func crashPartBody(t *testing.T, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("data", "part")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

type crashUpload struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Bytes  int64  `json:"bytes"`
	File   *struct {
		ID string `json:"id"`
	} `json:"file"`
}

type crashFile struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	Bytes    int64  `json:"bytes"`
	Filename string `json:"filename"`
	Purpose  string `json:"purpose"`
	Status   string `json:"status"`
}

type crashPart struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	UploadID string `json:"upload_id"`
	Bytes    int64  `json:"bytes"`
	MD5      string `json:"md5"`
}

// crashUploadFile uploads data in one part and completes it; it returns the
// file's metadata.
func crashUploadFile(t *testing.T, p *crashProc, name string, data []byte) crashFile {
	t.Helper()
	var u crashUpload
	p.must(t, "POST", "/uploads", map[string]any{"filename": name, "purpose": "assistants", "bytes": len(data), "mime_type": "text/plain"}, &u)
	body, ct := crashPartBody(t, data)
	status, answer, err := p.do("POST", "/uploads/"+u.ID+"/parts", body, ct)
	if err != nil || status != http.StatusOK {
		t.Fatalf("add part: %d %v\n%s", status, err, answer)
	}
	var part crashPart
	if err := json.Unmarshal(answer, &part); err != nil {
		t.Fatal(err)
	}
	var done crashUpload
	p.must(t, "POST", "/uploads/"+u.ID+"/complete", map[string]any{"part_ids": []string{part.ID}, "md5": crashMD5(data)}, &done)
	if done.Status != "completed" || done.File == nil {
		t.Fatalf("complete: %+v", done)
	}
	var f crashFile
	p.must(t, "GET", "/files/"+done.File.ID, nil, &f)
	return f
}

// crashCheckFile checks that a file's metadata and bytes are as they were.
func crashCheckFile(t *testing.T, p *crashProc, want crashFile, data []byte) {
	t.Helper()
	var got crashFile
	p.must(t, "GET", "/files/"+want.ID, nil, &got)
	if got != want {
		t.Fatalf("file after restart = %+v, want %+v", got, want)
	}
	status, content, err := p.do("GET", "/files/"+want.ID+"/content", nil, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("content of %s: %d %v", want.ID, status, err)
	}
	if crashMD5(content) != crashMD5(data) {
		t.Fatalf("content of %s after restart: %d bytes, md5 %s; want %d bytes, md5 %s",
			want.ID, len(content), crashMD5(content), len(data), crashMD5(data))
	}
}

func testSurvivesKill(t *testing.T, bin string) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	dir := t.TempDir()

	src := make([]byte, crashParts*crashPartSize)
	fill := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(src); i += 8 {
		v := fill.Uint64()
		for j := 0; j < 8; j++ {
			src[i+j] = byte(v >> (8 * j))
		}
	}
	chunk := func(i int) []byte { return src[i*crashPartSize : (i+1)*crashPartSize] }
	index := map[string]int{} // part MD5 → part number
	bodies := make([][]byte, crashParts)
	types := make([]string, crashParts) // each body has its own boundary
	for i := range crashParts {
		index[crashMD5(chunk(i))] = i
		bodies[i], types[i] = crashPartBody(t, chunk(i))
	}
	if len(index) != crashParts {
		t.Fatal("the parts are not distinct")
	}

	p := crashServe(t, bin, dir)
	keep := []byte("this file was completed before any crash\n")
	kept := crashUploadFile(t, p, "keep.txt", keep)

	var up crashUpload
	p.must(t, "POST", "/uploads", map[string]any{"filename": "big.bin", "purpose": "assistants", "bytes": len(src), "mime_type": "text/plain"}, &up)

	stored := map[int]string{} // part number → part id, as listed by the server
	for round := 0; ; round++ {
		var missing []int
		for i := range crashParts {
			if _, ok := stored[i]; !ok {
				missing = append(missing, i)
			}
		}
		rng.Shuffle(len(missing), func(i, j int) { missing[i], missing[j] = missing[j], missing[i] })
		kill := round < crashKillRound && len(missing) > 0
		killAfter := 0
		if kill {
			// Kill after roughly half of what is left has been
			// acknowledged, give or take, plus a random few milliseconds
			// so that the kill lands at different points of the requests
			// in flight (body, fsync, commit).
			killAfter = min(len(missing), max(1, len(missing)/2+rng.IntN(5)-2))
		}
		delay := time.Duration(rng.IntN(2000)) * time.Microsecond

		start := time.Now()
		acked, cut := crashSendParts(t, p, up.ID, bodies, types, missing, killAfter, delay)
		t.Logf("round %d: %d parts missing, kill after %d acknowledged + %v: %d acknowledged, %d cut off, in %v",
			round, len(missing), killAfter, delay, len(acked), cut, time.Since(start).Round(time.Millisecond))
		if !kill {
			if len(acked) != len(missing) {
				t.Fatalf("round %d without a kill: %d of %d parts acknowledged", round, len(acked), len(missing))
			}
			for i, id := range acked {
				stored[i] = id
			}
			break
		}
		if len(acked) < killAfter {
			t.Fatalf("round %d: only %d parts acknowledged before the kill, want at least %d", round, len(acked), killAfter)
		}

		p = crashServe(t, bin, dir)
		crashCheckFile(t, p, kept, keep)
		var u crashUpload
		p.must(t, "GET", "/uploads/"+up.ID, nil, &u)
		if u.Status != "pending" {
			t.Fatalf("upload after restart is %q, want pending", u.Status)
		}
		var list struct {
			Object string      `json:"object"`
			Data   []crashPart `json:"data"`
		}
		p.must(t, "GET", "/uploads/"+up.ID+"/parts", nil, &list)
		if list.Object != "list" {
			t.Fatalf("parts list object = %q", list.Object)
		}
		listed := map[int]string{}
		for _, part := range list.Data {
			i, ok := index[part.MD5]
			if !ok || part.Bytes != crashPartSize || part.UploadID != up.ID || part.Object != "upload.part" {
				t.Fatalf("round %d: listed part %+v is not one of the parts sent (half-written?)", round, part)
			}
			if prev, dup := listed[i]; dup {
				t.Fatalf("round %d: part %d listed twice (%s, %s) though sent once per round", round, i, prev, part.ID)
			}
			listed[i] = part.ID
		}
		for i, id := range stored {
			if listed[i] != id {
				t.Fatalf("round %d: part %d (%s), listed before, is now %q", round, i, id, listed[i])
			}
		}
		for i, id := range acked {
			if listed[i] != id {
				t.Fatalf("round %d: part %d was acknowledged as %s before the kill, but after restart it is %q", round, i, id, listed[i])
			}
		}
		extra := len(listed) - len(stored) - len(acked)
		if extra > crashWorkers {
			t.Fatalf("round %d: %d parts stored without an acknowledgement, more than the %d in flight", round, extra, crashWorkers)
		}
		t.Logf("round %d: after restart %d parts listed (%d whose answer was lost)", round, len(listed), extra)
		stored = listed
	}

	ids := make([]string, crashParts)
	for i := range crashParts {
		ids[i] = stored[i]
	}
	var done crashUpload
	p.must(t, "POST", "/uploads/"+up.ID+"/complete", map[string]any{"part_ids": ids, "md5": crashMD5(src)}, &done)
	if done.Status != "completed" || done.File == nil || done.Bytes != int64(len(src)) {
		t.Fatalf("complete: %+v", done)
	}
	var f crashFile
	p.must(t, "GET", "/files/"+done.File.ID, nil, &f)
	crashCheckFile(t, p, f, src)
	crashCheckFile(t, p, kept, keep)

	// A last kill and restart: the new file survives too.
	p.kill(t)
	p = crashServe(t, bin, dir)
	crashCheckFile(t, p, f, src)
	crashCheckFile(t, p, kept, keep)
}

// crashSendParts sends the listed parts from crashWorkers goroutines. With
// killAfter > 0 it SIGKILLs the server once that many parts have been
// acknowledged (and delay has passed), while others are in flight. It
// returns the part ids the server acknowledged, by part number, and how many
// requests the kill cut off.
func crashSendParts(t *testing.T, p *crashProc, uploadID string, bodies [][]byte, types []string, todo []int, killAfter int, delay time.Duration) (map[int]string, int) {
	t.Helper()
	var (
		mu       sync.Mutex
		acked    = map[int]string{}
		cut      int
		failures []string
		killed   atomic.Bool
		killOnce sync.Once
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	doKill := func() {
		killOnce.Do(func() {
			time.Sleep(delay)
			killed.Store(true)
			_ = p.cmd.Process.Kill()
		})
	}
	for range crashWorkers {
		wg.Go(func() {
			for !killed.Load() {
				k := int(next.Add(1)) - 1
				if k >= len(todo) {
					return
				}
				i := todo[k]
				status, answer, err := p.do("POST", "/uploads/"+uploadID+"/parts", bodies[i], types[i])
				if err != nil {
					mu.Lock()
					if killed.Load() {
						cut++
					} else {
						failures = append(failures, fmt.Sprintf("part %d: %v", i, err))
					}
					mu.Unlock()
					return
				}
				var part crashPart
				if status != http.StatusOK || json.Unmarshal(answer, &part) != nil || !strings.HasPrefix(part.ID, "part_") {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("part %d: %d %s", i, status, answer))
					mu.Unlock()
					return
				}
				mu.Lock()
				acked[i] = part.ID
				n := len(acked)
				mu.Unlock()
				if killAfter > 0 && n >= killAfter {
					doKill()
				}
			}
		})
	}
	wg.Wait()
	if killAfter > 0 {
		doKill() // in case fewer parts were left than killAfter
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Fatal("server did not die within 10s of SIGKILL")
		}
	}
	if len(failures) > 0 {
		t.Fatalf("part requests failed before any kill:\n%s", strings.Join(failures, "\n"))
	}
	return acked, cut
}

func testDataDirInUse(t *testing.T, bin string) {
	dir := t.TempDir()
	first := crashServe(t, bin, dir)

	second := crashStartProc(t, bin, dir)
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("a second server on the data directory in use was still running after 10s; stdout %q, stderr %q", second.stdout, second.stderr)
	}
	var exitErr *exec.ExitError
	if !errors.As(second.waitErr, &exitErr) || exitErr.ExitCode() == 0 {
		t.Fatalf("second server: wait error %v, want a non-zero exit code", second.waitErr)
	}
	stderr := second.stderr.String()
	if !strings.Contains(stderr, "data directory") || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, dir) {
		t.Errorf("second server's stderr does not say that data directory %s is in use:\n%s", dir, stderr)
	}
	if out := second.stdout.String(); out != "" {
		t.Errorf("second server printed %q on stdout, want nothing (it never listened)", out)
	}
	t.Logf("second server: exit code %d, stderr: %s", exitErr.ExitCode(), strings.TrimSpace(stderr))

	// The first one is unharmed.
	f := crashUploadFile(t, first, "still.txt", []byte("still serving\n"))
	crashCheckFile(t, first, f, []byte("still serving\n"))
}
