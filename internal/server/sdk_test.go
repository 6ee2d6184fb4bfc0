package server_test

// These tests drive the bundled server with the official Go SDK
// (github.com/openai/openai-go/v3), to prove that what the SDK sends is
// accepted and what the server answers decodes into the SDK's types, and
// that the server's refusals are the kind the SDK does not retry.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// sdkCounter is an http.RoundTripper that counts the requests that reach
// the wire, per "METHOD /path", so that a test can tell whether the SDK
// retried.
type sdkCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *sdkCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// count is how many requests were sent as "METHOD /v1/…".
func (c *sdkCounter) count(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[route]
}

// total is how many requests were sent in all.
func (c *sdkCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// sdkClient is an SDK client for s with key as its API key (its own
// organization), with the SDK's default retry policy, and the counter of
// the requests it sends.
func sdkClient(t *testing.T, s *servertest.Server, key string) (openai.Client, *sdkCounter) {
	t.Helper()
	hc := *s.Client()
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	ctr := &sdkCounter{next: next, n: map[string]int{}}
	hc.Transport = ctr
	client := openai.NewClient(
		option.WithBaseURL(s.BaseURL+"/"),
		option.WithAPIKey(key),
		option.WithHTTPClient(&hc),
	)
	return client, ctr
}

// sdkBytes is n deterministic pseudo-random bytes.
func sdkBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func sdkMD5(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// sdkAPIError asserts that err is an *openai.Error with the given status
// (and, when not empty, param and code) and returns it.
func sdkAPIError(t *testing.T, err error, status int, param, code string) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *openai.Error with status %d, got %T: %v", status, err, err)
	}
	if apiErr.StatusCode != status {
		t.Fatalf("status = %d, want %d (%s)", apiErr.StatusCode, status, apiErr.RawJSON())
	}
	if param != "" && apiErr.Param != param {
		t.Errorf("param = %q, want %q (%s)", apiErr.Param, param, apiErr.RawJSON())
	}
	if code != "" && apiErr.Code != code {
		t.Errorf("code = %q, want %q (%s)", apiErr.Code, code, apiErr.RawJSON())
	}
	if apiErr.Message == "" || apiErr.Type == "" {
		t.Errorf("error without message or type: %s", apiErr.RawJSON())
	}
	return apiErr
}

// sdkContent downloads a file's content with the SDK.
func sdkContent(t *testing.T, c openai.Client, id string) ([]byte, *http.Response) {
	t.Helper()
	res, err := c.Files.Content(context.Background(), id)
	if err != nil {
		t.Fatalf("Files.Content(%s): %v", id, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read content of %s: %v", id, err)
	}
	return b, res
}

// TestSDKUploadLifecycle creates an upload, sends three parts out of order,
// is refused a complete with a wrong MD5 (400, not retried), completes with
// the real MD5 and the parts in order, and reads the file back: in the
// default mode and in strict mode, where the SDK must need nothing more than
// the documented API.
func TestSDKUploadLifecycle(t *testing.T) {
	for _, mode := range []struct {
		name   string
		strict bool
	}{{"default", false}, {"strict", true}} {
		t.Run(mode.name, func(t *testing.T) { testSDKUploadLifecycle(t, mode.strict) })
	}
}

func testSDKUploadLifecycle(t *testing.T, strict bool) {
	s := servertest.Start(t, server.Config{Strict: strict})
	c, ctr := sdkClient(t, s, "sk-test")
	ctx := context.Background()

	data := sdkBytes(1, 300<<10+123) // 300 KiB and a bit, in three parts
	chunks := [][]byte{data[:128<<10], data[128<<10 : 256<<10], data[256<<10:]}

	up, err := c.Uploads.New(ctx, openai.UploadNewParams{
		Bytes:    int64(len(data)),
		Filename: "train.jsonl",
		MimeType: "application/jsonl",
		Purpose:  openai.FilePurposeBatch,
	})
	if err != nil {
		t.Fatalf("Uploads.New: %v", err)
	}
	if !strings.HasPrefix(up.ID, "upload_") || up.Object != "upload" || up.Status != openai.UploadStatusPending ||
		up.Bytes != int64(len(data)) || up.Filename != "train.jsonl" || up.Purpose != "batch" {
		t.Fatalf("new upload: %s", up.RawJSON())
	}
	if up.ExpiresAt != up.CreatedAt+3600 {
		t.Errorf("expires_at = %d, want created_at+3600 = %d", up.ExpiresAt, up.CreatedAt+3600)
	}
	if up.JSON.File.Raw() != "null" {
		t.Errorf("pending upload's file = %q, want null", up.JSON.File.Raw())
	}

	// Send the parts in the order 2, 0, 1: complete decides the order.
	partIDs := make([]string, len(chunks))
	for _, i := range []int{2, 0, 1} {
		p, err := c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(chunks[i])})
		if err != nil {
			t.Fatalf("Uploads.Parts.New(part %d): %v", i, err)
		}
		if !strings.HasPrefix(p.ID, "part_") || p.Object != "upload.part" || p.UploadID != up.ID || p.CreatedAt == 0 {
			t.Fatalf("part %d: %s", i, p.RawJSON())
		}
		if extra := len(p.JSON.ExtraFields); strict == (extra != 0) {
			t.Fatalf("part %d has %d fields beyond the SDK's in %s mode: %s", i, extra, map[bool]string{false: "default", true: "strict"}[strict], p.RawJSON())
		}
		if slices.Contains(partIDs, p.ID) {
			t.Fatalf("part id %s given twice", p.ID)
		}
		partIDs[i] = p.ID
	}
	if n := ctr.count("POST /v1/uploads/" + up.ID + "/parts"); n != 3 {
		t.Errorf("%d part requests sent, want 3", n)
	}

	// A wrong MD5 (the MD5 of the parts in the order they were sent) is a
	// 400 the SDK must not retry, and leaves the upload pending.
	wrong := sdkMD5(slices.Concat(chunks[2], chunks[0], chunks[1]))
	completePath := "POST /v1/uploads/" + up.ID + "/complete"
	_, err = c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: partIDs, Md5: openai.String(wrong)})
	sdkAPIError(t, err, http.StatusBadRequest, "md5", "")
	if n := ctr.count(completePath); n != 1 {
		t.Fatalf("the SDK sent the refused complete %d times, want 1 (no retry)", n)
	}

	done, err := c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: partIDs, Md5: openai.String(sdkMD5(data))})
	if err != nil {
		t.Fatalf("Uploads.Complete: %v", err)
	}
	if done.ID != up.ID || done.Status != openai.UploadStatusCompleted || !done.JSON.File.Valid() {
		t.Fatalf("completed upload: %s", done.RawJSON())
	}
	f := done.File
	if !strings.HasPrefix(f.ID, "file-") || f.Object != "file" || f.Bytes != int64(len(data)) ||
		f.Filename != "train.jsonl" || f.Purpose != openai.FileObjectPurposeBatch || f.Status != openai.FileObjectStatusProcessed { //nolint:staticcheck // the deprecated status is still part of the API
		t.Fatalf("completed upload's file: %s", done.JSON.File.Raw())
	}

	// Completing again is a state conflict: 400 (not 409, which the SDK
	// would retry), sent once.
	_, err = c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: partIDs})
	sdkAPIError(t, err, http.StatusBadRequest, "", "")
	if n := ctr.count(completePath); n != 3 {
		t.Errorf("%d complete requests sent, want 3 (no retry)", n)
	}

	got, err := c.Files.Get(ctx, f.ID)
	if err != nil {
		t.Fatalf("Files.Get: %v", err)
	}
	if got.ID != f.ID || got.Bytes != f.Bytes || got.CreatedAt != f.CreatedAt || got.Filename != f.Filename ||
		got.Purpose != f.Purpose || got.Status != openai.FileObjectStatusProcessed { //nolint:staticcheck // the deprecated status is still part of the API
		t.Errorf("Files.Get = %s, want the completed upload's file %s", got.RawJSON(), done.JSON.File.Raw())
	}

	body, res := sdkContent(t, c, f.ID)
	if !bytes.Equal(body, data) {
		t.Fatalf("content: %d bytes (md5 %s), want the %d uploaded bytes (md5 %s)", len(body), sdkMD5(body), len(data), sdkMD5(data))
	}
	if res.ContentLength != int64(len(data)) {
		t.Errorf("content Content-Length = %d, want %d", res.ContentLength, len(data))
	}
}

// TestSDKUploadCancel cancels a pending upload with a part, then is refused
// a second cancel and a part on the cancelled upload: 400s the SDK sends
// once each.
func TestSDKUploadCancel(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	c, ctr := sdkClient(t, s, "sk-test")
	ctx := context.Background()

	data := sdkBytes(2, 64<<10)
	up, err := c.Uploads.New(ctx, openai.UploadNewParams{
		Bytes: int64(len(data)), Filename: "notes.md", MimeType: "text/markdown", Purpose: openai.FilePurposeAssistants,
	})
	if err != nil {
		t.Fatalf("Uploads.New: %v", err)
	}
	if _, err := c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(data)}); err != nil {
		t.Fatalf("Uploads.Parts.New: %v", err)
	}

	cancelled, err := c.Uploads.Cancel(ctx, up.ID)
	if err != nil {
		t.Fatalf("Uploads.Cancel: %v", err)
	}
	if cancelled.ID != up.ID || cancelled.Status != openai.UploadStatusCancelled || cancelled.JSON.File.Raw() != "null" {
		t.Fatalf("cancelled upload: %s", cancelled.RawJSON())
	}

	_, err = c.Uploads.Cancel(ctx, up.ID)
	sdkAPIError(t, err, http.StatusBadRequest, "", "")
	if n := ctr.count("POST /v1/uploads/" + up.ID + "/cancel"); n != 2 {
		t.Errorf("%d cancel requests sent, want 2 (the second refused without retry)", n)
	}

	_, err = c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(data[:10])})
	sdkAPIError(t, err, http.StatusBadRequest, "", "")
	if n := ctr.count("POST /v1/uploads/" + up.ID + "/parts"); n != 2 {
		t.Errorf("%d part requests sent, want 2 (the second refused without retry)", n)
	}

	list, err := c.Files.List(ctx, openai.FileListParams{})
	if err != nil {
		t.Fatalf("Files.List: %v", err)
	}
	if len(list.Data) != 0 {
		t.Errorf("a cancelled upload made a file: %s", list.RawJSON())
	}
}

// TestSDKEarlyRefusalIsNotRetried sends parts the server refuses before
// reading their body (a part declared larger than the part cap, a part on a
// cancelled upload, a part on another organization's upload): the server
// answers and closes the connection with the body unread. The SDK must read
// that answer, an *openai.Error, from one request; a connection reset
// instead would make it send the whole part three times and then report
// "connection reset by peer". The race is lost only some of the time, hence
// the rounds.
func TestSDKEarlyRefusalIsNotRetried(t *testing.T) {
	s := servertest.Start(t, server.Config{MaxPartSize: 1 << 20})
	c, ctr := sdkClient(t, s, "sk-test")
	other, otherCtr := sdkClient(t, s, "sk-other")
	ctx := context.Background()
	big := sdkBytes(5, 4<<20)

	newUpload := func() string {
		t.Helper()
		up, err := c.Uploads.New(ctx, openai.UploadNewParams{
			Bytes: 100, Filename: "x.jsonl", MimeType: "application/jsonl", Purpose: openai.FilePurposeBatch,
		})
		if err != nil {
			t.Fatalf("Uploads.New: %v", err)
		}
		return up.ID
	}
	for round := range 3 {
		id := newUpload()
		route := "POST /v1/uploads/" + id + "/parts"

		_, err := c.Uploads.Parts.New(ctx, id, openai.UploadPartNewParams{Data: bytes.NewReader(big)})
		sdkAPIError(t, err, http.StatusBadRequest, "data", "")
		if n := ctr.count(route); n != 1 {
			t.Fatalf("round %d: a part over the cap was sent %d times, want 1", round, n)
		}

		_, err = other.Uploads.Parts.New(ctx, id, openai.UploadPartNewParams{Data: bytes.NewReader(big)})
		sdkAPIError(t, err, http.StatusNotFound, "", "")
		if n := otherCtr.count(route); n != 1 {
			t.Fatalf("round %d: a part on another organization's upload was sent %d times, want 1", round, n)
		}

		if _, err := c.Uploads.Cancel(ctx, id); err != nil {
			t.Fatalf("Uploads.Cancel: %v", err)
		}
		_, err = c.Uploads.Parts.New(ctx, id, openai.UploadPartNewParams{Data: bytes.NewReader(big)})
		sdkAPIError(t, err, http.StatusBadRequest, "", "")
		if n := ctr.count(route); n != 2 {
			t.Fatalf("round %d: a part on a cancelled upload was sent %d times, want 1", round, n-1)
		}
	}
}

// TestSDKVideoUpload uses the purpose "video" (an extension the SDK lets
// through as a FilePurpose string) with video/mp4 and an expires_after for
// the file, and is refused a MIME type outside the video allowlist.
func TestSDKVideoUpload(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	c, ctr := sdkClient(t, s, "sk-test")
	ctx := context.Background()

	_, err := c.Uploads.New(ctx, openai.UploadNewParams{
		Bytes: 10, Filename: "clip.mp4", MimeType: "text/plain", Purpose: openai.FilePurpose("video"),
	})
	sdkAPIError(t, err, http.StatusBadRequest, "mime_type", "")
	if n := ctr.count("POST /v1/uploads"); n != 1 {
		t.Errorf("%d create requests sent for a refused create, want 1", n)
	}

	data := sdkBytes(3, 200<<10)
	up, err := c.Uploads.New(ctx, openai.UploadNewParams{
		Bytes: int64(len(data)), Filename: "clip.mp4", MimeType: "video/mp4", Purpose: openai.FilePurpose("video"),
		ExpiresAfter: openai.UploadNewParamsExpiresAfter{Seconds: 86400},
	})
	if err != nil {
		t.Fatalf("Uploads.New(video): %v", err)
	}
	if up.Purpose != "video" || up.Status != openai.UploadStatusPending {
		t.Fatalf("video upload: %s", up.RawJSON())
	}
	var ids []string
	for _, chunk := range [][]byte{data[:150<<10], data[150<<10:]} {
		p, err := c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{
			Data: openai.File(bytes.NewReader(chunk), "clip.mp4", "video/mp4"),
		})
		if err != nil {
			t.Fatalf("Uploads.Parts.New: %v", err)
		}
		ids = append(ids, p.ID)
	}
	done, err := c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: ids, Md5: openai.String(sdkMD5(data))})
	if err != nil {
		t.Fatalf("Uploads.Complete: %v", err)
	}
	if done.File.Purpose != "video" || done.File.Bytes != int64(len(data)) || done.File.Filename != "clip.mp4" {
		t.Fatalf("video file: %s", done.JSON.File.Raw())
	}
	if done.File.ExpiresAt != done.File.CreatedAt+86400 {
		t.Errorf("file expires_at = %d, want created_at+86400 = %d (expires_after of the upload)", done.File.ExpiresAt, done.File.CreatedAt+86400)
	}
	body, _ := sdkContent(t, c, done.File.ID)
	if !bytes.Equal(body, data) {
		t.Fatalf("video content differs: %d bytes, want %d", len(body), len(data))
	}
	list, err := c.Files.List(ctx, openai.FileListParams{Purpose: openai.String("video")})
	if err != nil {
		t.Fatalf("Files.List(purpose=video): %v", err)
	}
	if len(list.Data) != 1 || list.Data[0].ID != done.File.ID {
		t.Errorf("Files.List(purpose=video) = %s, want only %s", list.RawJSON(), done.File.ID)
	}
}

// TestSDKFilesNew uploads small files with Files.New (multipart, with and
// without expires_after) and reads them back.
func TestSDKFilesNew(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	c, _ := sdkClient(t, s, "sk-test")
	ctx := context.Background()

	lines := []byte(`{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{}}` + "\n")
	f, err := c.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(bytes.NewReader(lines), "requests.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	})
	if err != nil {
		t.Fatalf("Files.New(batch): %v", err)
	}
	if !strings.HasPrefix(f.ID, "file-") || f.Object != "file" || f.Bytes != int64(len(lines)) || f.Filename != "requests.jsonl" ||
		f.Purpose != openai.FileObjectPurposeBatch || f.Status != openai.FileObjectStatusProcessed || f.CreatedAt == 0 { //nolint:staticcheck // the deprecated status is still part of the API
		t.Fatalf("Files.New(batch) = %s", f.RawJSON())
	}
	if body, _ := sdkContent(t, c, f.ID); !bytes.Equal(body, lines) {
		t.Errorf("content = %q, want %q", body, lines)
	}

	text := sdkBytes(4, 5000)
	g, err := c.Files.New(ctx, openai.FileNewParams{
		File:         openai.File(bytes.NewReader(text), "notes.txt", "text/plain"),
		Purpose:      openai.FilePurposeAssistants,
		ExpiresAfter: openai.FileNewParamsExpiresAfter{Seconds: 7200},
	})
	if err != nil {
		t.Fatalf("Files.New(assistants, expires_after): %v", err)
	}
	if g.Purpose != openai.FileObjectPurposeAssistants || g.Bytes != int64(len(text)) || g.Filename != "notes.txt" {
		t.Fatalf("Files.New(assistants) = %s", g.RawJSON())
	}
	if g.ExpiresAt != g.CreatedAt+7200 {
		t.Errorf("expires_at = %d, want created_at+7200 = %d", g.ExpiresAt, g.CreatedAt+7200)
	}
	if body, _ := sdkContent(t, c, g.ID); !bytes.Equal(body, text) {
		t.Errorf("content of %s differs from what was sent", g.ID)
	}

	_, err = c.Files.New(ctx, openai.FileNewParams{
		File:         openai.File(bytes.NewReader(text), "notes.txt", "text/plain"),
		Purpose:      openai.FilePurposeAssistants,
		ExpiresAfter: openai.FileNewParamsExpiresAfter{Seconds: 60},
	})
	sdkAPIError(t, err, http.StatusBadRequest, "expires_after.seconds", "")
}

// TestSDKFilesListAndDelete lists more files than one page with the SDK's
// auto-pager, filters by purpose, and deletes.
func TestSDKFilesListAndDelete(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	c, ctr := sdkClient(t, s, "sk-test")
	ctx := context.Background()

	var created, assistants []string
	for i := range 9 {
		purpose, name, mt := openai.FilePurposeBatch, "batch.jsonl", "application/jsonl"
		if i%4 == 1 {
			purpose, name, mt = openai.FilePurposeAssistants, "doc.txt", "text/plain"
		}
		f, err := c.Files.New(ctx, openai.FileNewParams{
			File: openai.File(bytes.NewReader(sdkBytes(uint64(10+i), 100+i)), name, mt), Purpose: purpose,
		})
		if err != nil {
			t.Fatalf("Files.New #%d: %v", i, err)
		}
		created = append(created, f.ID)
		if purpose == openai.FilePurposeAssistants {
			assistants = append(assistants, f.ID)
		}
	}

	collect := func(params openai.FileListParams) []string {
		t.Helper()
		var ids []string
		pager := c.Files.ListAutoPaging(ctx, params)
		for pager.Next() {
			ids = append(ids, pager.Current().ID)
		}
		if err := pager.Err(); err != nil {
			t.Fatalf("ListAutoPaging: %v", err)
		}
		return ids
	}
	newestFirst := slices.Clone(created)
	slices.Reverse(newestFirst)

	before := ctr.count("GET /v1/files")
	all := collect(openai.FileListParams{Limit: openai.Int(4)})
	if !slices.Equal(all, newestFirst) {
		t.Fatalf("ListAutoPaging(limit=4) = %v, want newest first %v", all, newestFirst)
	}
	if n := ctr.count("GET /v1/files") - before; n != 3 {
		t.Errorf("auto-paging 9 files 4 at a time took %d requests, want 3 (has_more false on the last page)", n)
	}

	if asc := collect(openai.FileListParams{Limit: openai.Int(2), Order: openai.FileListParamsOrderAsc}); !slices.Equal(asc, created) {
		t.Errorf("ListAutoPaging(order=asc, limit=2) = %v, want %v", asc, created)
	}

	wantAssistants := slices.Clone(assistants)
	slices.Reverse(wantAssistants)
	if got := collect(openai.FileListParams{Limit: openai.Int(1), Purpose: openai.String("assistants")}); !slices.Equal(got, wantAssistants) {
		t.Errorf("ListAutoPaging(purpose=assistants, limit=1) = %v, want %v", got, wantAssistants)
	}

	page, err := c.Files.List(ctx, openai.FileListParams{Limit: openai.Int(4)})
	if err != nil {
		t.Fatalf("Files.List: %v", err)
	}
	if !page.HasMore || len(page.Data) != 4 {
		t.Errorf("first page of 4: has_more=%v with %d files, want true with 4", page.HasMore, len(page.Data))
	}

	victim := created[3]
	del, err := c.Files.Delete(ctx, victim)
	if err != nil {
		t.Fatalf("Files.Delete: %v", err)
	}
	if del.ID != victim || !del.Deleted || del.Object != "file" {
		t.Errorf("Files.Delete = %s", del.RawJSON())
	}
	_, err = c.Files.Get(ctx, victim)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = c.Files.Content(ctx, victim)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = c.Files.Delete(ctx, victim)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	if n := ctr.count("DELETE /v1/files/" + victim); n != 2 {
		t.Errorf("%d delete requests sent, want 2 (the 404 not retried)", n)
	}
	rest := collect(openai.FileListParams{})
	if want := slices.DeleteFunc(slices.Clone(newestFirst), func(id string) bool { return id == victim }); !slices.Equal(rest, want) {
		t.Errorf("after delete, list = %v, want %v", rest, want)
	}
}

// TestSDKOrganizations shows that a client with another key (another
// organization) gets 404 on everything the first client made, and sees
// none of its files.
func TestSDKOrganizations(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	a, _ := sdkClient(t, s, "sk-org-a")
	b, ctrB := sdkClient(t, s, "sk-org-b")
	ctx := context.Background()

	content := []byte("hello from org a\n")
	f, err := a.Files.New(ctx, openai.FileNewParams{
		File: openai.File(bytes.NewReader(content), "a.txt", "text/plain"), Purpose: openai.FilePurposeAssistants,
	})
	if err != nil {
		t.Fatalf("Files.New: %v", err)
	}
	up, err := a.Uploads.New(ctx, openai.UploadNewParams{
		Bytes: int64(len(content)), Filename: "a.txt", MimeType: "text/plain", Purpose: openai.FilePurposeAssistants,
	})
	if err != nil {
		t.Fatalf("Uploads.New: %v", err)
	}
	part, err := a.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(content)})
	if err != nil {
		t.Fatalf("Uploads.Parts.New: %v", err)
	}

	_, err = b.Files.Get(ctx, f.ID)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = b.Files.Content(ctx, f.ID)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = b.Files.Delete(ctx, f.ID)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = b.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(content)})
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = b.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: []string{part.ID}})
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	_, err = b.Uploads.Cancel(ctx, up.ID)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
	list, err := b.Files.List(ctx, openai.FileListParams{})
	if err != nil {
		t.Fatalf("Files.List as b: %v", err)
	}
	if len(list.Data) != 0 {
		t.Errorf("org b sees org a's files: %s", list.RawJSON())
	}
	// The 404s were each sent once: 6 refused requests and one list.
	if total := ctrB.total(); total != 7 {
		t.Errorf("client b sent %d requests, want 7 (no retries of 404)", total)
	}

	// Org a still has everything, and can finish its upload.
	done, err := a.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: []string{part.ID}, Md5: openai.String(sdkMD5(content))})
	if err != nil {
		t.Fatalf("Uploads.Complete as a: %v", err)
	}
	for _, id := range []string{f.ID, done.File.ID} {
		if body, _ := sdkContent(t, a, id); !bytes.Equal(body, content) {
			t.Errorf("content of %s = %q, want %q", id, body, content)
		}
	}
	_, err = b.Files.Get(ctx, done.File.ID)
	sdkAPIError(t, err, http.StatusNotFound, "", "")
}
