package server_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

const key = "sk-test"

// wantError checks that an answer is the API's error envelope with the given
// status, param and code (param "" means null).
func wantError(t testing.TB, r servertest.Response, status int, param, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("empty error message in %s", r.Body)
	}
	if _, ok := e["type"].(string); !ok {
		t.Fatalf("no error type in %s", r.Body)
	}
	for _, f := range []string{"param", "code"} {
		if _, ok := e[f]; !ok {
			t.Fatalf("error has no %q field: %s", f, r.Body)
		}
	}
	if got, _ := e["param"].(string); got != param || (param == "" && e["param"] != nil) {
		t.Fatalf("param = %v, want %q; body: %s", e["param"], param, r.Body)
	}
	if got, _ := e["code"].(string); got != code {
		t.Fatalf("code = %v, want %q; body: %s", e["code"], code, r.Body)
	}
	return e
}

func wantOK(t testing.TB, r servertest.Response) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body: %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

func newUpload(purpose, mimeType string, size int64) map[string]any {
	return map[string]any{"filename": "clip.mp4", "purpose": purpose, "bytes": size, "mime_type": mimeType}
}

func createUpload(t testing.TB, s *servertest.Server, k string, size int64) string {
	t.Helper()
	return wantOK(t, s.Do(t, "POST", "/uploads", k, newUpload("video", "video/mp4", size), ""))["id"].(string)
}

// multipartBody frames data as the one field "data" of a form.
func multipartBody(t testing.TB, field string, data []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile(field, "blob")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func addPart(t testing.TB, s *servertest.Server, k, uploadID string, data []byte) servertest.Response {
	t.Helper()
	body, ct := multipartBody(t, "data", data)
	return s.Do(t, "POST", "/uploads/"+uploadID+"/parts", k, body, ct)
}

func mustAddPart(t testing.TB, s *servertest.Server, k, uploadID string, data []byte) string {
	t.Helper()
	p := wantOK(t, addPart(t, s, k, uploadID, data))
	if p["object"] != "upload.part" || p["upload_id"] != uploadID {
		t.Fatalf("part object = %v", p)
	}
	sum := md5.Sum(data)
	if p["md5"] != hex.EncodeToString(sum[:]) || p["bytes"] != float64(len(data)) {
		t.Fatalf("part md5/bytes = %v/%v, want %x/%d", p["md5"], p["bytes"], sum, len(data))
	}
	return p["id"].(string)
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func TestHealthz(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	res, err := s.Client().Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("healthz = %d", res.StatusCode)
	}
}

func TestCreateUpload(t *testing.T) {
	s := servertest.Start(t, server.Config{UploadTTL: 2 * time.Hour})
	u := wantOK(t, s.Do(t, "POST", "/uploads", key, newUpload("video", "video/mp4", 524288000), ""))
	if u["object"] != "upload" || u["status"] != "pending" || u["file"] != nil || u["bytes"] != float64(524288000) ||
		u["filename"] != "clip.mp4" || u["purpose"] != "video" || !strings.HasPrefix(u["id"].(string), "upload_") {
		t.Fatalf("upload = %v", u)
	}
	if exp, created := u["expires_at"].(float64), u["created_at"].(float64); exp-created != 7200 {
		t.Fatalf("expires_at - created_at = %v, want the TTL 7200", exp-created)
	}
	// The upload cap is inclusive; MIME parameters and case are ignored.
	wantOK(t, s.Do(t, "POST", "/uploads", key, newUpload("video", "Video/MP4; codecs=avc1", 8<<30), ""))
	for purpose, mt := range map[string]string{"batch": "application/jsonl", "fine-tune": "text/jsonl", "assistants": "application/pdf",
		"vision": "image/png", "user_data": "text/markdown", "evals": "application/x-ndjson"} {
		wantOK(t, s.Do(t, "POST", "/uploads", key, newUpload(purpose, mt, 10), ""))
	}
}

func TestCreateUploadValidation(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	valid := func() map[string]any { return newUpload("video", "video/mp4", 100) }
	with := func(k string, v any) map[string]any { m := valid(); m[k] = v; return m }
	without := func(k string) map[string]any { m := valid(); delete(m, k); return m }
	cases := []struct {
		name        string
		body        any
		param, code string
	}{
		{"malformed JSON", `{"filename": "a",`, "", "invalid_json"},
		{"not an object", `[1,2]`, "", "invalid_json"},
		{"two values", `{} {}`, "", "invalid_json"},
		{"missing filename", without("filename"), "filename", "missing_required_parameter"},
		{"missing purpose", without("purpose"), "purpose", "missing_required_parameter"},
		{"missing bytes", without("bytes"), "bytes", "missing_required_parameter"},
		{"missing mime_type", without("mime_type"), "mime_type", "missing_required_parameter"},
		{"bytes as string", with("bytes", "100"), "bytes", "invalid_type"},
		{"bytes fractional", with("bytes", 1.5), "bytes", "invalid_type"},
		{"filename as number", with("filename", 7), "filename", "invalid_type"},
		{"empty filename", with("filename", ""), "filename", "invalid_value"},
		{"unknown purpose", with("purpose", "answers"), "purpose", "invalid_value"},
		{"mime not allowed", with("mime_type", "text/plain"), "mime_type", "unsupported_mime_type"},
		{"mime garbage", with("mime_type", "not a mime"), "mime_type", "unsupported_mime_type"},
		{"negative bytes", with("bytes", -1), "bytes", "invalid_value"},
		{"zero bytes", with("bytes", 0), "bytes", "invalid_value"},
		{"bytes over cap", with("bytes", int64(8<<30)+1), "bytes", "invalid_value"},
		{"unknown field", with("color", "red"), "color", "unknown_parameter"},
		{"expiry too short", with("expires_after", map[string]any{"anchor": "created_at", "seconds": 3599}), "expires_after.seconds", "invalid_value"},
		{"expiry too long", with("expires_after", map[string]any{"anchor": "created_at", "seconds": 2592001}), "expires_after.seconds", "invalid_value"},
		{"expiry anchor", with("expires_after", map[string]any{"anchor": "now", "seconds": 3600}), "expires_after.anchor", "invalid_value"},
		{"expiry no seconds", with("expires_after", map[string]any{"anchor": "created_at"}), "expires_after.seconds", "missing_required_parameter"},
		{"expiry not object", with("expires_after", 3600), "expires_after", "invalid_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := wantError(t, s.Do(t, "POST", "/uploads", key, c.body, "application/json"), 400, c.param, c.code)
			if e["type"] != "invalid_request_error" {
				t.Fatalf("type = %v", e["type"])
			}
		})
	}
	// Messages say what was wrong and what was expected.
	e := wantError(t, s.Do(t, "POST", "/uploads", key, with("purpose", "answers"), ""), 400, "purpose", "invalid_value")
	if msg := e["message"].(string); !strings.Contains(msg, "'answers' is not one of [") || !strings.Contains(msg, "'video'") {
		t.Fatalf("message = %q", msg)
	}
	e = wantError(t, s.Do(t, "POST", "/uploads", key, with("mime_type", "text/plain"), ""), 400, "mime_type", "unsupported_mime_type")
	if msg := e["message"].(string); !strings.Contains(msg, "text/plain") || !strings.Contains(msg, "video/mp4") {
		t.Fatalf("message = %q", msg)
	}
}

func TestConfiguredLimitsAndPurposes(t *testing.T) {
	p := server.DefaultPurposes()
	if err := p.Allow("audio=audio/mpeg,audio/wav"); err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, server.Config{Purposes: p, MaxUploadSize: 1000})
	wantOK(t, s.Do(t, "POST", "/uploads", key, newUpload("audio", "audio/wav", 1000), ""))
	wantError(t, s.Do(t, "POST", "/uploads", key, newUpload("audio", "audio/wav", 1001), ""), 400, "bytes", "invalid_value")
	for _, bad := range []string{"audio", "=x/y", "audio=", "audio=not a type"} {
		if err := p.Allow(bad); err == nil {
			t.Errorf("Allow(%q) accepted", bad)
		}
	}
}

func TestAuthentication(t *testing.T) {
	open := servertest.Start(t, server.Config{})
	for _, h := range []string{"", "Basic abc", "Bearer ", "Bearer"} {
		req, _ := http.NewRequest("GET", open.BaseURL+"/files", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		res, err := open.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantError(t, servertest.Response{Status: res.StatusCode, Header: res.Header, Body: body}, 401, "", "invalid_api_key")
	}

	keyed := servertest.Start(t, server.Config{Keys: map[string]string{"k1": "org-a", "k2": "org-a", "k3": "org-b"}})
	wantError(t, keyed.Do(t, "GET", "/files", "unknown", nil, ""), 401, "", "invalid_api_key")
	id := createUpload(t, keyed, "k1", 5)
	wantOK(t, keyed.Do(t, "GET", "/uploads/"+id, "k2", nil, ""))                            // same organization
	wantError(t, keyed.Do(t, "GET", "/uploads/"+id, "k3", nil, ""), 404, "id", "not_found") // another one
}

func TestOrganizationsAreIsolated(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	data := []byte("hello")
	id := createUpload(t, s, "alice", int64(len(data)))
	part := mustAddPart(t, s, "alice", id, data)
	other := createUpload(t, s, "alice", int64(len(data)))
	for _, req := range []struct{ method, path string }{
		{"GET", "/uploads/" + id}, {"GET", "/uploads/" + id + "/parts"},
		{"POST", "/uploads/" + id + "/cancel"},
	} {
		wantError(t, s.Do(t, req.method, req.path, "bob", nil, ""), 404, "id", "not_found")
	}
	wantError(t, addPart(t, s, "bob", id, data), 404, "id", "not_found")
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/complete", "bob", map[string]any{"part_ids": []string{part}}, ""), 404, "id", "not_found")
	// Bob's own upload cannot take Alice's part.
	bobs := createUpload(t, s, "bob", int64(len(data)))
	wantError(t, s.Do(t, "POST", "/uploads/"+bobs+"/complete", "bob", map[string]any{"part_ids": []string{part}}, ""), 400, "part_ids", "unknown_part_id")

	done := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", "alice", map[string]any{"part_ids": []string{part}}, ""))
	fileID := done["file"].(map[string]any)["id"].(string)
	for _, req := range []struct{ method, path string }{
		{"GET", "/files/" + fileID}, {"GET", "/files/" + fileID + "/content"}, {"DELETE", "/files/" + fileID},
	} {
		e := wantError(t, s.Do(t, req.method, req.path, "bob", nil, ""), 404, "id", "not_found")
		if e["message"] != "No such File object: "+fileID {
			t.Fatalf("message = %v", e["message"])
		}
	}
	if l := wantOK(t, s.Do(t, "GET", "/files", "bob", nil, "")); len(l["data"].([]any)) != 0 {
		t.Fatalf("bob sees alice's files: %v", l)
	}
	_ = other
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	wantError(t, s.Do(t, "GET", "/nothing", key, nil, ""), 404, "", "unknown_url")
	wantError(t, s.Do(t, "PUT", "/files", key, nil, ""), 405, "", "method_not_allowed")
	wantError(t, s.Do(t, "DELETE", "/uploads/upload_x/parts", key, nil, ""), 405, "", "method_not_allowed")
	wantError(t, s.Do(t, "GET", "/uploads/upload_nope", key, nil, ""), 404, "id", "not_found")
	wantError(t, s.Do(t, "GET", "/files/file-nope", key, nil, ""), 404, "id", "not_found")
	wantError(t, s.Do(t, "POST", "/uploads/upload_nope/cancel", key, nil, ""), 404, "id", "not_found")
	wantError(t, s.Do(t, "POST", "/uploads/upload_nope/complete", key, map[string]any{"part_ids": []string{"x"}}, ""), 404, "id", "not_found")
	wantError(t, addPart(t, s, key, "upload_nope", []byte("x")), 404, "id", "not_found")
}

func TestFilenamesAreData(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	for _, name := range []string{"../../../../etc/passwd", "/abs/path.mp4", "a\"b;c\r\n.mp4", "clip ünïcødé.mp4"} {
		body := newUpload("video", "video/mp4", 3)
		body["filename"] = name
		id := wantOK(t, s.Do(t, "POST", "/uploads", key, body, ""))["id"].(string)
		part := mustAddPart(t, s, key, id, []byte("abc"))
		u := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{part}}, ""))
		f := u["file"].(map[string]any)
		if f["filename"] != name {
			t.Fatalf("filename = %q, want %q", f["filename"], name)
		}
		r := s.Do(t, "GET", "/files/"+f["id"].(string)+"/content", key, nil, "")
		if r.Status != 200 || string(r.Body) != "abc" {
			t.Fatalf("content = %d %q", r.Status, r.Body)
		}
		if cd := r.Header.Get("Content-Disposition"); strings.ContainsAny(cd, "\r\n") {
			t.Fatalf("Content-Disposition carries raw control characters: %q", cd)
		}
	}
}
