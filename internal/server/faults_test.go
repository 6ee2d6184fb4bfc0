package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
	"github.com/uploads-dev/uploads/internal/store"
)

// injector fails every request to the endpoints with kind.
func injector(t testing.TB, kind faults.Kind, on ...faults.Endpoint) *faults.Injector {
	t.Helper()
	inj, err := faults.New(faults.Config{Rate: 1, Kinds: []faults.Kind{kind}, Endpoints: on})
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

// send makes one request and returns the transport's error, if any; an
// answer that did arrive is read whole and returned.
func send(t testing.TB, s *servertest.Server, method, path string, body []byte, contentType string) (servertest.Response, error) {
	t.Helper()
	req, err := http.NewRequest(method, s.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := s.Client().Do(req)
	if err != nil {
		return servertest.Response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return servertest.Response{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// A lost part: the client sees the connection fail, yet the server stored
// the part, as the part listing shows.
func TestLostPartIsStored(t *testing.T) {
	inj := injector(t, faults.Lost, faults.Parts)
	s := servertest.Start(t, server.Config{}, inj.Wrap)
	data := randomBytes(41, 300<<10)
	id := createUpload(t, s, key, int64(len(data)))
	body, ct := multipartBody(t, "data", data)
	if r, err := send(t, s, "POST", "/uploads/"+id+"/parts", body, ct); err == nil {
		t.Fatalf("a lost answer arrived: %d %s", r.Status, r.Body)
	} else {
		t.Logf("the client saw: %v", err)
	}
	if inj.Injected() != 1 {
		t.Fatalf("injected = %d, want 1", inj.Injected())
	}
	l := wantOK(t, s.Do(t, "GET", "/uploads/"+id+"/parts", key, nil, ""))["data"].([]any)
	if len(l) != 1 {
		t.Fatalf("%d parts stored, want the one whose answer was lost", len(l))
	}
	p := l[0].(map[string]any)
	if p["bytes"] != float64(len(data)) || p["md5"] != md5hex(data) {
		t.Fatalf("stored part = %v, want %d bytes with MD5 %s", p, len(data), md5hex(data))
	}
	// What the server did stands: the part completes the upload.
	wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{p["id"].(string)}, "md5": md5hex(data)}, ""))
}

// A lost complete: the client sees the connection fail, yet the upload is
// completed and its file is listed.
func TestLostCompleteCompletes(t *testing.T) {
	inj := injector(t, faults.Lost, faults.Complete)
	s := servertest.Start(t, server.Config{}, inj.Wrap)
	data := randomBytes(42, 5000)
	id := createUpload(t, s, key, int64(len(data)))
	p := mustAddPart(t, s, key, id, data)
	if r, err := send(t, s, "POST", "/uploads/"+id+"/complete", []byte(`{"part_ids":["`+p+`"],"md5":"`+md5hex(data)+`"}`), "application/json"); err == nil {
		t.Fatalf("a lost answer arrived: %d %s", r.Status, r.Body)
	}
	files := wantOK(t, s.Do(t, "GET", "/files", key, nil, ""))["data"].([]any)
	if len(files) != 1 {
		t.Fatalf("%d files after a lost complete, want 1", len(files))
	}
	f := files[0].(map[string]any)
	if f["bytes"] != float64(len(data)) {
		t.Fatalf("file = %v", f)
	}
	if u := wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, "")); u["status"] != "completed" || u["file"].(map[string]any)["id"] != f["id"] {
		t.Fatalf("upload after a lost complete = %v", u)
	}
	if c := s.Do(t, "GET", "/files/"+f["id"].(string)+"/content", key, nil, ""); !bytes.Equal(c.Body, data) {
		t.Fatal("content differs")
	}
}

// Faults on create and cancel fail those calls and leave parts alone.
func TestFaultsOnCreateAndCancel(t *testing.T) {
	inj := injector(t, faults.Status503, faults.Create, faults.Cancel)
	s := servertest.Start(t, server.Config{}, inj.Wrap)
	wantError(t, s.Do(t, "POST", "/uploads", key, newUpload("video", "video/mp4", 3), ""), 503, "", "server_overloaded")
	// An upload made behind the server's back, since create fails.
	u, err := s.Store.CreateUpload(store.NewUpload{Org: server.OrgOf(key), Filename: "a.mp4", Purpose: "video", MimeType: "video/mp4", Bytes: 3, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mustAddPart(t, s, key, u.ID, []byte("abc"))
	wantError(t, s.Do(t, "POST", "/uploads/"+u.ID+"/cancel", key, nil, ""), 503, "", "server_overloaded")
	if g := wantOK(t, s.Do(t, "GET", "/uploads/"+u.ID, key, nil, "")); g["status"] != "pending" {
		t.Fatalf("status after a failed cancel = %v, want pending", g["status"])
	}
	if inj.Injected() != 2 {
		t.Fatalf("injected = %d, want 2", inj.Injected())
	}
}
