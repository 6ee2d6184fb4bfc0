package server_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// completedFile makes a file of the given purpose through the Uploads API.
func completedFile(t testing.TB, s *servertest.Server, purpose, mimeType string, data []byte) string {
	t.Helper()
	id := wantOK(t, s.Do(t, "POST", "/uploads", key, newUpload(purpose, mimeType, int64(len(data))), ""))["id"].(string)
	p := mustAddPart(t, s, key, id, data)
	return wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{p}}, ""))["file"].(map[string]any)["id"].(string)
}

func ids(t testing.TB, l map[string]any) []string {
	t.Helper()
	var out []string
	for _, f := range l["data"].([]any) {
		out = append(out, f.(map[string]any)["id"].(string))
	}
	return out
}

func TestListFiles(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	var made []string // oldest first
	for i := range 5 {
		purpose, mt := "batch", "application/jsonl"
		if i%2 == 1 {
			purpose, mt = "video", "video/mp4"
		}
		made = append(made, completedFile(t, s, purpose, mt, []byte(fmt.Sprint("file ", i))))
	}
	l := wantOK(t, s.Do(t, "GET", "/files", key, nil, ""))
	got := ids(t, l)
	if fmt.Sprint(got) != fmt.Sprint([]string{made[4], made[3], made[2], made[1], made[0]}) {
		t.Fatalf("default order is not newest first: %v", got)
	}
	if l["object"] != "list" || l["has_more"] != false || l["first_id"] != made[4] || l["last_id"] != made[0] {
		t.Fatalf("list = %v", l)
	}
	if got := ids(t, wantOK(t, s.Do(t, "GET", "/files?order=asc", key, nil, ""))); got[0] != made[0] {
		t.Fatalf("asc = %v", got)
	}
	if got := ids(t, wantOK(t, s.Do(t, "GET", "/files?purpose=video", key, nil, ""))); fmt.Sprint(got) != fmt.Sprint([]string{made[3], made[1]}) {
		t.Fatalf("purpose=video = %v", got)
	}
	// Paging with limit and after walks every file once.
	var walked []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page := wantOK(t, s.Do(t, "GET", "/files?order=asc&limit=2"+after, key, nil, ""))
		walked = append(walked, ids(t, page)...)
		if page["has_more"] != true {
			break
		}
		after = "&after=" + page["last_id"].(string)
	}
	if fmt.Sprint(walked) != fmt.Sprint(made) {
		t.Fatalf("paged = %v, want %v", walked, made)
	}
	for _, q := range []string{"limit=0", "limit=10001", "limit=x", "order=up", "after=file-unknown"} {
		r := s.Do(t, "GET", "/files?"+q, key, nil, "")
		if r.Status != 400 {
			t.Fatalf("?%s = %d, want 400", q, r.Status)
		}
	}
	empty := wantOK(t, s.Do(t, "GET", "/files", "someone-else", nil, ""))
	if len(empty["data"].([]any)) != 0 || empty["has_more"] != false {
		t.Fatalf("empty list = %v", empty)
	}
}

func TestFileContentGetDelete(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	data := randomBytes(5, 3000)
	// Three parts: content and ranges must cross the part boundaries.
	id := createUpload(t, s, key, 3000)
	p1, p2, p3 := mustAddPart(t, s, key, id, data[:1000]), mustAddPart(t, s, key, id, data[1000:2000]), mustAddPart(t, s, key, id, data[2000:])
	fid := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{p1, p2, p3}}, ""))["file"].(map[string]any)["id"].(string)

	f := wantOK(t, s.Do(t, "GET", "/files/"+fid, key, nil, ""))
	if f["id"] != fid || f["bytes"] != float64(3000) || f["filename"] != "clip.mp4" {
		t.Fatalf("file = %v", f)
	}
	r := s.Do(t, "GET", "/files/"+fid+"/content", key, nil, "")
	if r.Status != 200 || !bytes.Equal(r.Body, data) || r.Header.Get("Content-Length") != "3000" {
		t.Fatalf("content: %d, %d bytes, Content-Length %q", r.Status, len(r.Body), r.Header.Get("Content-Length"))
	}
	for _, rg := range []struct {
		header   string
		from, to int
	}{{"bytes=990-2010", 990, 2011}, {"bytes=-5", 2995, 3000}, {"bytes=2999-", 2999, 3000}, {"bytes=0-0", 0, 1}} {
		req, _ := http.NewRequest("GET", s.BaseURL+"/files/"+fid+"/content", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Range", rg.header)
		req.Header.Set("Accept", "application/binary")
		res, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, _ = got.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(got.Bytes(), data[rg.from:rg.to]) {
			t.Fatalf("Range %s: %d, %d bytes", rg.header, res.StatusCode, got.Len())
		}
	}
	d := wantOK(t, s.Do(t, "DELETE", "/files/"+fid, key, nil, ""))
	if d["id"] != fid || d["object"] != "file" || d["deleted"] != true {
		t.Fatalf("delete = %v", d)
	}
	wantError(t, s.Do(t, "GET", "/files/"+fid, key, nil, ""), 404, "id", "not_found")
	wantError(t, s.Do(t, "GET", "/files/"+fid+"/content", key, nil, ""), 404, "id", "not_found")
	wantError(t, s.Do(t, "DELETE", "/files/"+fid, key, nil, ""), 404, "id", "not_found")
}

func fileForm(t testing.TB, fields map[string]string, name string, data []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if data != nil {
		w, _ := mw.CreateFormFile("file", name)
		_, _ = w.Write(data)
	}
	_ = mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func TestCreateFile(t *testing.T) {
	s := servertest.Start(t, server.Config{MaxFileSize: 4096})
	post := func(fields map[string]string, data []byte) servertest.Response {
		body, ct := fileForm(t, fields, "train.jsonl", data)
		return s.Do(t, "POST", "/files", key, body, ct)
	}
	data := []byte(`{"prompt": "a"}` + "\n")
	f := wantOK(t, post(map[string]string{"purpose": "fine-tune", "expires_after[anchor]": "created_at", "expires_after[seconds]": "7200"}, data))
	if f["object"] != "file" || f["filename"] != "train.jsonl" || f["bytes"] != float64(len(data)) || f["purpose"] != "fine-tune" ||
		f["expires_at"].(float64)-f["created_at"].(float64) != 7200 {
		t.Fatalf("file = %v", f)
	}
	if r := s.Do(t, "GET", "/files/"+f["id"].(string)+"/content", key, nil, ""); !bytes.Equal(r.Body, data) {
		t.Fatalf("content = %q", r.Body)
	}
	wantError(t, post(map[string]string{}, data), 400, "purpose", "missing_required_parameter")
	wantError(t, post(map[string]string{"purpose": "answers"}, data), 400, "purpose", "invalid_value")
	wantError(t, post(map[string]string{"purpose": "batch"}, nil), 400, "file", "missing_required_parameter")
	wantError(t, post(map[string]string{"purpose": "batch", "expires_after[seconds]": "60", "expires_after[anchor]": "created_at"}, data), 400, "expires_after.seconds", "invalid_value")
	wantError(t, post(map[string]string{"purpose": "batch", "expires_after[seconds]": "3600"}, data), 400, "expires_after[anchor]", "missing_required_parameter")
	wantError(t, post(map[string]string{"purpose": "batch", "colour": "red"}, data), 400, "colour", "unknown_parameter")
	wantError(t, post(map[string]string{"purpose": "batch"}, make([]byte, 4097)), 400, "file", "file_too_large")
	wantError(t, s.Do(t, "POST", "/files", key, "{}", "application/json"), 400, "file", "invalid_multipart")
	wantOK(t, post(map[string]string{"purpose": "batch"}, make([]byte, 4096)))
}
