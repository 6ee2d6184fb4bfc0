package server_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct {
	n, read int64
	sent    atomic.Int64 // read, for other goroutines
}

// pattern repeats 0..250; a window of it starting at any offset mod 251 is
// the stream's next bytes.
var pattern = func() []byte {
	b := make([]byte, 251*(1+(256<<10)/251))
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.read >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.read {
		b = b[:p.n-p.read]
	}
	off := int(p.read % 251)
	n := copy(b, pattern[off:off+min(len(b), len(pattern)-251)])
	p.read += int64(n)
	p.sent.Store(p.read)
	return n, nil
}

// streamPart sends a part of size bytes as a streamed multipart body with an
// exact Content-Length, and returns the answer and how many body bytes the
// client actually got to send.
func streamPart(t testing.TB, s *servertest.Server, uploadID string, size int64) (servertest.Response, int64) {
	t.Helper()
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("data", "blob"); err != nil {
		t.Fatal(err)
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	pr := &patternReader{n: size}
	body := io.MultiReader(bytes.NewReader(head.Bytes()), pr, bytes.NewReader([]byte(tail)))
	req, err := http.NewRequest("POST", s.BaseURL+"/uploads/"+uploadID+"/parts", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(head.Len()) + size + int64(len(tail))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := s.Client().Do(req)
	if err != nil {
		// The server may close the connection while the client still writes.
		return servertest.Response{Status: -1, Body: []byte(err.Error())}, pr.sent.Load()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return servertest.Response{Status: res.StatusCode, Header: res.Header, Body: b}, pr.sent.Load()
}

func heapAllocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestPartSizeLimitIsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 192 MiB over loopback")
	}
	s := servertest.Start(t, server.Config{})
	const max = 64 << 20
	id := createUpload(t, s, key, max)

	var res servertest.Response
	alloc := heapAllocDuring(func() { res, _ = streamPart(t, s, id, max) })
	p := wantOK(t, res)
	if p["bytes"] != float64(max) {
		t.Fatalf("bytes = %v", p["bytes"])
	}
	// Client and server together stream 64 MiB; neither may hold it.
	if alloc > 16<<20 {
		t.Fatalf("accepting a 64 MiB part allocated %d MiB; the body must stream to disk", alloc>>20)
	}

	// One byte more: refused, and refused without buffering the body.
	alloc = heapAllocDuring(func() { res, _ = streamPart(t, s, id, max+1) })
	t.Logf("64 MiB + 1: status %d, %s", res.Status, res.Body)
	if res.Status != -1 {
		wantError(t, res, 400, "data", "part_too_large")
	}
	if alloc > 16<<20 {
		t.Fatalf("refusing a 64 MiB + 1 part allocated %d MiB", alloc>>20)
	}
	// A declared length far past the cap is refused before the body is read.
	res, sent := streamPart(t, s, id, 1<<30)
	t.Logf("1 GiB: status %d, client sent %d MiB", res.Status, sent>>20)
	if res.Status != -1 {
		wantError(t, res, 400, "data", "part_too_large")
	}
	if sent > 256<<20 {
		t.Fatalf("the client sent %d MiB of a 1 GiB part that the server refuses from its Content-Length", sent>>20)
	}
	// Only the good part was kept.
	if l := wantOK(t, s.Do(t, "GET", "/uploads/"+id+"/parts", key, nil, "")); len(l["data"].([]any)) != 1 {
		t.Fatalf("parts = %v", l["data"])
	}
}

func TestPartRules(t *testing.T) {
	s := servertest.Start(t, server.Config{MaxPartSize: 1000, MaxUploadSize: 2500})
	id := createUpload(t, s, key, 2500)

	wantOK(t, addPart(t, s, key, id, make([]byte, 1000)))
	wantError(t, addPart(t, s, key, id, make([]byte, 1001)), 400, "data", "part_too_large")

	// Not multipart, no data field, a truncated body.
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/parts", key, "raw bytes", "application/octet-stream"), 400, "data", "invalid_multipart")
	body, ct := multipartBody(t, "file", []byte("x"))
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/parts", key, body, ct), 400, "data", "missing_required_parameter")
	body, ct = multipartBody(t, "data", make([]byte, 500))
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/parts", key, body[:len(body)-60], ct), 400, "data", "invalid_body")

	// The upload cap counts every accepted part, even past the declared size
	// (a part resent after a lost answer is legitimate).
	wantOK(t, addPart(t, s, key, id, make([]byte, 1000)))
	wantOK(t, addPart(t, s, key, id, make([]byte, 500)))
	wantError(t, addPart(t, s, key, id, make([]byte, 1)), 400, "data", "upload_too_large")

	l := wantOK(t, s.Do(t, "GET", "/uploads/"+id+"/parts", key, nil, ""))
	if n := len(l["data"].([]any)); n != 3 {
		t.Fatalf("%d parts listed, want the 3 accepted ones", n)
	}
	// Nothing of the refused parts is left on disk.
	entries := partFiles(t, s.DataDir, id)
	if len(entries) != 3 {
		t.Fatalf("%d part files on disk, want 3", len(entries))
	}
}

func TestPartsOnlyWhilePending(t *testing.T) {
	s := servertest.Start(t, server.Config{UploadTTL: time.Hour})
	data := []byte("abc")

	completed := createUpload(t, s, key, 3)
	p := mustAddPart(t, s, key, completed, data)
	wantOK(t, s.Do(t, "POST", "/uploads/"+completed+"/complete", key, map[string]any{"part_ids": []string{p}}, ""))
	wantError(t, addPart(t, s, key, completed, data), 400, "", "upload_not_pending")

	cancelled := createUpload(t, s, key, 3)
	wantOK(t, s.Do(t, "POST", "/uploads/"+cancelled+"/cancel", key, nil, ""))
	wantError(t, addPart(t, s, key, cancelled, data), 400, "", "upload_not_pending")

	expiring := createUpload(t, s, key, 3)
	mustAddPart(t, s, key, expiring, data)
	s.Clock.Advance(time.Hour)
	if u := wantOK(t, s.Do(t, "GET", "/uploads/"+expiring, key, nil, "")); u["status"] != "expired" {
		t.Fatalf("status after the TTL = %v, want expired", u["status"])
	}
	wantError(t, addPart(t, s, key, expiring, data), 400, "", "upload_expired")
	wantError(t, s.Do(t, "POST", "/uploads/"+expiring+"/complete", key, map[string]any{"part_ids": []string{"part_x"}}, ""), 400, "", "upload_expired")
	wantError(t, s.Do(t, "POST", "/uploads/"+expiring+"/cancel", key, nil, ""), 400, "", "upload_expired")

	// The reaper records the expiry and deletes the parts' bytes.
	r, err := s.Store.Reap()
	if err != nil || r.Uploads != 1 {
		t.Fatalf("Reap = %+v, %v; want 1 upload expired", r, err)
	}
	if left := partFiles(t, s.DataDir, expiring); len(left) != 0 {
		t.Fatalf("the expired upload's parts are still on disk: %v", left)
	}
	if l := wantOK(t, s.Do(t, "GET", "/uploads/"+expiring+"/parts", key, nil, "")); len(l["data"].([]any)) != 0 {
		t.Fatalf("parts of an expired upload: %v", l["data"])
	}
}

func TestManyPartsInParallel(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	const n, size = 24, 64 << 10
	id := createUpload(t, s, key, n*size)
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := multipartBody(t, "data", randomBytes(uint64(i), size))
			r := s.Do(t, "POST", "/uploads/"+id+"/parts", key, body, ct)
			if r.Status != 200 {
				failures.Add(1)
				return
			}
			ids[i] = r.JSON(t)["id"].(string)
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d parallel parts failed", failures.Load())
	}
	var whole []byte
	for i := range n {
		whole = append(whole, randomBytes(uint64(i), size)...)
	}
	u := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": ids, "md5": md5hex(whole)}, ""))
	fid := u["file"].(map[string]any)["id"].(string)
	if r := s.Do(t, "GET", "/files/"+fid+"/content", key, nil, ""); !bytes.Equal(r.Body, whole) {
		t.Fatalf("content differs from the parts in listed order (%d bytes)", len(r.Body))
	}
}

// Complete, cancel and new parts racing on one upload: exactly one of
// complete and cancel wins, nothing answers 500, and what is left on disk
// matches the outcome.
func TestCompleteCancelAndPartsRace(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	data := randomBytes(9, 4096)
	for round := range 12 {
		id := createUpload(t, s, key, int64(len(data)))
		part := mustAddPart(t, s, key, id, data)
		var wg sync.WaitGroup
		results := make([]servertest.Response, 3)
		wg.Add(3)
		go func() {
			defer wg.Done()
			results[0] = s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{part}, "md5": md5hex(data)}, "")
		}()
		go func() { defer wg.Done(); results[1] = s.Do(t, "POST", "/uploads/"+id+"/cancel", key, nil, "") }()
		go func() { defer wg.Done(); results[2] = addPart(t, s, key, id, []byte("late")) }()
		wg.Wait()
		for i, r := range results {
			if r.Status != 200 && r.Status != 400 {
				t.Fatalf("round %d request %d: status %d: %s", round, i, r.Status, r.Body)
			}
		}
		if (results[0].Status == 200) == (results[1].Status == 200) {
			t.Fatalf("round %d: complete %d and cancel %d: exactly one must win", round, results[0].Status, results[1].Status)
		}
		u := wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, ""))
		entries := partFiles(t, s.DataDir, id)
		switch u["status"] {
		case "completed":
			fid := u["file"].(map[string]any)["id"].(string)
			if r := s.Do(t, "GET", "/files/"+fid+"/content", key, nil, ""); !bytes.Equal(r.Body, data) {
				t.Fatalf("round %d: completed content differs", round)
			}
			if len(entries) != 1 {
				t.Fatalf("round %d: %d part files after completion, want only the listed one", round, len(entries))
			}
		case "cancelled":
			if len(entries) != 0 {
				t.Fatalf("round %d: %d part files left after cancel", round, len(entries))
			}
		default:
			t.Fatalf("round %d: status %v", round, u["status"])
		}
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartIn(t, dir, server.Config{})
	data := randomBytes(3, 10000)
	done := createUpload(t, s, key, int64(len(data)))
	p := mustAddPart(t, s, key, done, data)
	fid := wantOK(t, s.Do(t, "POST", "/uploads/"+done+"/complete", key, map[string]any{"part_ids": []string{p}}, ""))["file"].(map[string]any)["id"].(string)
	pending := createUpload(t, s, key, 20000)
	p1 := mustAddPart(t, s, key, pending, data)
	s.Stop()

	// A stray file (a part whose request died before its record) is swept,
	// in parts/ and in a directory per upload (where earlier versions put
	// parts), and so is the directory it leaves empty.
	stray := filepath.Join(dir, "parts", pending+".part_stray")
	legacyDir := filepath.Join(dir, "parts", pending)
	legacy := filepath.Join(legacyDir, "part_stray")
	if err := os.Mkdir(legacyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stray, legacy} {
		if err := os.WriteFile(f, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = servertest.StartIn(t, dir, server.Config{})
	for _, f := range []string{stray, legacy, legacyDir} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("stray %s survived the restart: %v", f, err)
		}
	}
	if r := s.Do(t, "GET", "/files/"+fid+"/content", key, nil, ""); !bytes.Equal(r.Body, data) {
		t.Fatalf("file content after restart differs")
	}
	l := wantOK(t, s.Do(t, "GET", "/uploads/"+pending+"/parts", key, nil, ""))["data"].([]any)
	if len(l) != 1 || l[0].(map[string]any)["id"] != p1 {
		t.Fatalf("parts after restart = %v", l)
	}
	p2 := mustAddPart(t, s, key, pending, data)
	wantOK(t, s.Do(t, "POST", "/uploads/"+pending+"/complete", key, map[string]any{"part_ids": []string{p1, p2}, "md5": md5hex(append(append([]byte{}, data...), data...))}, ""))
}

func TestPartFaultsAreInjected(t *testing.T) {
	inj := mustInjector(t, 1, "429")
	s := servertest.Start(t, server.Config{}, inj.Wrap)
	id := createUpload(t, s, key, 3)
	r := addPart(t, s, key, id, []byte("abc"))
	wantError(t, r, 429, "", "rate_limit_exceeded")
	if r.Header.Get("Retry-After") == "" || r.Header.Get("Retry-After-Ms") == "" {
		t.Fatalf("429 without Retry-After: %v", r.Header)
	}
	// Only part uploads fail; the rest of the API is untouched.
	wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, ""))
	if inj.Injected() != 1 {
		t.Fatalf("injected = %d", inj.Injected())
	}
	for _, kind := range []string{"500", "503"} {
		s := servertest.Start(t, server.Config{}, mustInjector(t, 1, kind).Wrap)
		id := createUpload(t, s, key, 3)
		r := addPart(t, s, key, id, []byte("abc"))
		if r.Status != map[string]int{"500": 500, "503": 503}[kind] || r.JSON(t)["error"] == nil {
			t.Fatalf("fault %s: %d %s", kind, r.Status, r.Body)
		}
	}
	drop := servertest.Start(t, server.Config{}, mustInjector(t, 1, "drop").Wrap)
	id = createUpload(t, drop, key, 3)
	body, ct := multipartBody(t, "data", []byte("abc"))
	req, _ := http.NewRequest("POST", drop.BaseURL+"/uploads/"+id+"/parts", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+key)
	if res, err := drop.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a dropped connection answered %d", res.StatusCode)
	}
	if l := wantOK(t, drop.Do(t, "GET", "/uploads/"+id+"/parts", key, nil, "")); len(l["data"].([]any)) != 0 {
		t.Fatalf("a failed part was stored: %v", l)
	}
}

func TestFaultRateIsReproducible(t *testing.T) {
	pattern := func() string {
		s := servertest.Start(t, server.Config{}, mustInjectorSeed(t, 0.5, "500", 42).Wrap)
		id := createUpload(t, s, key, 1)
		out := ""
		for range 40 {
			out += fmt.Sprint(addPart(t, s, key, id, []byte("a")).Status / 100)
		}
		return out
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if n := bytes.Count([]byte(a), []byte("5")); n < 8 || n > 32 {
		t.Fatalf("%d of 40 requests failed at rate 0.5", n)
	}
}

// partFiles lists the files holding the bytes of the upload's parts: in
// parts/, named UPLOAD_ID.PART_ID (and, as earlier versions stored them, in
// parts/UPLOAD_ID/).
func partFiles(t testing.TB, dataDir, uploadID string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dataDir, "parts", uploadID+".*"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dataDir, "parts", uploadID, "*"))
	return append(files, old...)
}
