package server_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// In strict mode the extensions are gone: their URLs answer exactly as an
// unknown URL does, and a part is the official object with its four fields.
func TestStrictModeOffersOnlyTheDocumentedAPI(t *testing.T) {
	s := servertest.Start(t, server.Config{Strict: true})
	data := randomBytes(31, 1000)
	id := createUpload(t, s, key, int64(len(data)))

	unknown := wantError(t, s.Do(t, "GET", "/nowhere", key, nil, ""), 404, "", "unknown_url")
	wantError(t, s.Do(t, "GET", "/nowhere", "", nil, ""), 404, "", "unknown_url")
	for _, r := range []struct{ method, path string }{
		{"GET", "/uploads/" + id},
		{"GET", "/uploads/" + id + "/parts"},
		{"POST", "/uploads/" + id},
		{"DELETE", "/uploads/" + id},
	} {
		for _, k := range []string{key, ""} { // with a key or without, as any unknown URL
			e := wantError(t, s.Do(t, r.method, r.path, k, nil, ""), 404, "", "unknown_url")
			if e["type"] != unknown["type"] {
				t.Errorf("%s %s: type %v, want %v as for any unknown URL", r.method, r.path, e["type"], unknown["type"])
			}
		}
	}
	// Other methods on the parts URL: only POST is allowed.
	r := s.Do(t, "PUT", "/uploads/"+id+"/parts", key, nil, "")
	wantError(t, r, 405, "", "method_not_allowed")
	if a := r.Header.Get("Allow"); a != "POST" {
		t.Errorf("Allow = %q, want POST", a)
	}

	res := addPart(t, s, key, id, data)
	p := wantOK(t, res)
	if got := slices.Sorted(maps.Keys(p)); !slices.Equal(got, []string{"created_at", "id", "object", "upload_id"}) {
		t.Fatalf("strict part object has the fields %v, want exactly created_at, id, object, upload_id", got)
	}
	// No header beyond what any HTTP server sends (and the request id,
	// which the real service sends too).
	for h := range res.Header {
		switch h {
		case "Content-Type", "Content-Length", "Date", "X-Request-Id":
		default:
			t.Errorf("strict answer has the extra header %s: %s", h, res.Header.Get(h))
		}
	}
	// The rest of the flow is unchanged: complete, the file, its content.
	u := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{p["id"].(string)}, "md5": md5hex(data)}, ""))
	fid := u["file"].(map[string]any)["id"].(string)
	if c := s.Do(t, "GET", "/files/"+fid+"/content", key, nil, ""); c.Status != http.StatusOK || md5hex(c.Body) != md5hex(data) {
		t.Fatalf("content: %d, %d bytes", c.Status, len(c.Body))
	}
}

// Both modes accept the same purposes (video included).
func TestStrictModeKeepsThePurposes(t *testing.T) {
	for _, strict := range []bool{false, true} {
		s := servertest.Start(t, server.Config{Strict: strict})
		wantOK(t, s.Do(t, "POST", "/uploads", key, newUpload("video", "video/mp4", 10), ""))
		wantError(t, s.Do(t, "POST", "/uploads", key, newUpload("answers", "text/plain", 10), ""), 400, "purpose", "invalid_value")
	}
}

// The default mode keeps the extensions.
func TestDefaultModeOffersTheExtensions(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	id := createUpload(t, s, key, 3)
	p := mustAddPart(t, s, key, id, []byte("abc")) // checks bytes and md5
	if u := wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, "")); u["status"] != "pending" {
		t.Fatalf("GET upload = %v", u)
	}
	l := wantOK(t, s.Do(t, "GET", "/uploads/"+id+"/parts", key, nil, ""))["data"].([]any)
	if len(l) != 1 || l[0].(map[string]any)["id"] != p || l[0].(map[string]any)["md5"] != md5hex([]byte("abc")) {
		t.Fatalf("GET parts = %v", l)
	}
}
