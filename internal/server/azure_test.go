package server_test

// Azure mode over real HTTP, request by request: the routes and the
// api-version rules, the authentication and Azure's error bodies, the
// Content-Type rule, and what stays as in the default shape (strict mode,
// faults, the handlers' own validation). azure_sdk_test.go drives the same
// server with the official SDK's azure package.

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// azureVersion is the api-version the tests send on the classic routes.
const azureVersion = "2024-10-21"

// azureDo sends a request to an Azure-mode server: pathQuery is the path
// under the endpoint with its query, headers are "Name: value" lines. A
// body other than []byte is sent as JSON.
func azureDo(t testing.TB, s *servertest.Server, method, pathQuery string, body any, contentType string, headers ...string) servertest.Response {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b, contentType = j, "application/json"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+pathQuery, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(name, strings.TrimSpace(value))
	}
	return s.Send(t, req)
}

// wantAzureError checks that an answer is Azure's error body
// {"error":{"code","message"}} with the given status and code, and the
// given message unless it is empty.
func wantAzureError(t testing.TB, r servertest.Response, status int, code, message string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var env struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error == nil {
		t.Fatalf("not an Azure error body: %s", r.Body)
	}
	if got := slices.Sorted(maps.Keys(env.Error)); !slices.Equal(got, []string{"code", "message"}) {
		t.Errorf("Azure error has the fields %v, want code and message: %s", got, r.Body)
	}
	if env.Error["code"] != code {
		t.Errorf("code = %v, want %q: %s", env.Error["code"], code, r.Body)
	}
	if msg, _ := env.Error["message"].(string); msg == "" || (message != "" && msg != message) {
		t.Errorf("message = %q, want %q", msg, message)
	}
}

func azureCreate(t testing.TB, s *servertest.Server, size int64, headers ...string) string {
	t.Helper()
	return wantOK(t, azureDo(t, s, "POST", "/openai/uploads?api-version="+azureVersion, newUpload("video", "video/mp4", size), "", headers...))["id"].(string)
}

// The classic routes and the v1 routes serve the API; /v1/… and every other
// URL answer Azure's 404.
func TestAzureRoutes(t *testing.T) {
	s := servertest.Start(t, server.Config{Azure: true})
	k := "api-key: " + key
	id := azureCreate(t, s, 3, k)
	data := []byte("abc")
	body, ct := multipartBody(t, "data", data)
	p := wantOK(t, azureDo(t, s, "POST", "/openai/uploads/"+id+"/parts?api-version="+azureVersion, body, ct, k))
	if p["object"] != "upload.part" || p["md5"] != md5hex(data) {
		t.Fatalf("part = %v", p)
	}
	// The v1 form reaches the same upload, with no api-version.
	if u := wantOK(t, azureDo(t, s, "GET", "/openai/v1/uploads/"+id, nil, "", k)); u["status"] != "pending" {
		t.Fatalf("GET upload (v1 form) = %v", u)
	}
	u := wantOK(t, azureDo(t, s, "POST", "/openai/v1/uploads/"+id+"/complete", map[string]any{"part_ids": []string{p["id"].(string)}}, "", k))
	fid := u["file"].(map[string]any)["id"].(string)
	if c := azureDo(t, s, "GET", "/openai/files/"+fid+"/content?api-version="+azureVersion, nil, "", k); c.Status != http.StatusOK || string(c.Body) != "abc" {
		t.Fatalf("content: %d %q", c.Status, c.Body)
	}
	l := wantOK(t, azureDo(t, s, "GET", "/openai/files?api-version="+azureVersion+"&limit=1", nil, "", k))
	if d := l["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != fid {
		t.Fatalf("list = %v", l)
	}
	wantOK(t, azureDo(t, s, "DELETE", "/openai/v1/files/"+fid, nil, "", k))
	wantOK(t, azureDo(t, s, "GET", "/healthz", nil, ""))

	// What a real resource does not route is a 404 with Azure's body, with
	// a key or without: OpenAI's own paths first of all.
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/files"},
		{"POST", "/v1/uploads"},
		{"GET", "/v1/uploads/" + id},
		{"GET", "/openai/deployments/gpt/chat/completions?api-version=" + azureVersion},
		{"GET", "/openai/files/" + fid + "/content/more?api-version=" + azureVersion},
		{"GET", "/openai/v1/nowhere"},
		{"GET", "/openai//files?api-version=" + azureVersion},
		{"GET", "/openai/v1/files/../uploads"},
		{"GET", "/"},
	} {
		for _, h := range [][]string{{k}, {"Authorization: Bearer " + key}, nil} {
			wantAzureError(t, azureDo(t, s, r.method, r.path, nil, "", h...), 404, "404", "Resource not found")
		}
	}
	// A method the route does not have is the handlers' 405, as in the
	// default shape.
	wantError(t, azureDo(t, s, "PUT", "/openai/files?api-version="+azureVersion, nil, "", k), 405, "", "method_not_allowed")
}

// The classic routes require a dated api-version (404 without one, 400 for
// one that is not a date); the v1 routes take none, "v1" or "preview".
func TestAzureAPIVersion(t *testing.T) {
	s := servertest.Start(t, server.Config{Azure: true})
	k := "api-key: " + key
	for _, c := range []struct {
		query  string
		status int // 0: the route's answer (200)
		code   string
	}{
		{"", 404, "404"},
		{"?api-version=", 404, "404"},
		{"?API-VERSION=" + azureVersion, 404, "404"}, // the name is case-sensitive
		{"?api-version=2024-10-21", 0, ""},
		{"?api-version=2024-08-01-preview", 0, ""},
		{"?api-version=2025-04-01-preview", 0, ""},
		{"?api-version=2099-12-31", 0, ""},
		{"?api-version=2024-13-01", 400, "BadRequest"},
		{"?api-version=2024-10-21-beta", 400, "BadRequest"},
		{"?api-version=v1", 400, "BadRequest"},
		{"?api-version=latest", 400, "BadRequest"},
	} {
		r := azureDo(t, s, "GET", "/openai/files"+c.query, nil, "", k)
		if c.status == 0 {
			wantOK(t, r)
			continue
		}
		msg := map[int]string{404: "Resource not found", 400: "API version not supported"}[c.status]
		wantAzureError(t, r, c.status, c.code, msg)
	}
	for _, c := range []struct {
		query  string
		status int
	}{
		{"", 200}, {"?api-version=v1", 200}, {"?api-version=preview", 200},
		{"?api-version=" + azureVersion, 400}, {"?api-version=latest", 400},
	} {
		r := azureDo(t, s, "GET", "/openai/v1/files"+c.query, nil, "", k)
		if c.status == 200 {
			wantOK(t, r)
			continue
		}
		wantAzureError(t, r, 400, "BadRequest", "API version not supported")
	}
	// The version is checked before the key: a request with neither is a 404.
	wantAzureError(t, azureDo(t, s, "GET", "/openai/files", nil, ""), 404, "404", "Resource not found")
}

// The api-key header, or a bearer token, must be one of the keys; Azure's
// two 401 bodies answer the others.
func TestAzureAuthentication(t *testing.T) {
	s := servertest.Start(t, server.Config{Azure: true, Keys: map[string]string{"azure-a": "org-a", "azure-b": "org-b"}})
	files := "/openai/files?api-version=" + azureVersion
	const denied = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	for _, h := range [][]string{
		nil,
		{"api-key: wrong"},
		{"api-key:  "},
		{"Authorization: Basic dXNlcjpwYXNz"},
		{"Authorization: Bearer "},
		{"api-key: wrong", "Authorization: Bearer azure-a"}, // the api-key is the credential when present
	} {
		wantAzureError(t, azureDo(t, s, "GET", files, nil, "", h...), 401, "401", denied)
	}
	for _, h := range [][]string{
		{"api-key: azure-a"},
		{"Api-Key: azure-a"},
		{"Authorization: Bearer azure-a"}, // an Entra ID token on a real resource
		{"Authorization: bearer azure-a"},
		{"api-key: azure-a", "Authorization: Bearer nope"},
	} {
		wantOK(t, azureDo(t, s, "GET", files, nil, "", h...))
	}
	// A refused token gets the gateway's body, outside the error envelope.
	r := azureDo(t, s, "GET", files, nil, "", "Authorization: Bearer not-a-key")
	if r.Status != 401 {
		t.Fatalf("refused token: %d %s", r.Status, r.Body)
	}
	var tok map[string]any
	if err := json.Unmarshal(r.Body, &tok); err != nil || tok["statusCode"] != float64(401) ||
		!strings.HasPrefix(tok["message"].(string), "Unauthorized. Access token is missing, invalid") || tok["error"] != nil {
		t.Fatalf("refused token's body = %s", r.Body)
	}
	// Organizations hold across the two credentials and the two route forms.
	id := azureCreate(t, s, 3, "api-key: azure-a")
	wantOK(t, azureDo(t, s, "GET", "/openai/v1/uploads/"+id, nil, "", "Authorization: Bearer azure-a"))
	wantError(t, azureDo(t, s, "GET", "/openai/uploads/"+id+"?api-version="+azureVersion, nil, "", "api-key: azure-b"), 404, "id", "not_found")
}

// dataPart is a multipart body whose field holds data, with header lines of
// its own (no Content-Type unless given); first false puts another field
// before it, so that mime/multipart reads it rather than the direct reader.
func dataPart(t testing.TB, field string, header []string, data []byte, first bool) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if !first {
		_ = mw.WriteField("purpose", "assistants")
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="blob.txt"`)
	for _, line := range header {
		name, value, _ := strings.Cut(line, ":")
		h.Set(name, strings.TrimSpace(value))
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	_ = mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// A part whose data field has no Content-Type is refused in Azure mode (as
// Azure refuses such a file), and accepted in the default shape, as by
// OpenAI. POST /files follows the same rule for its file field.
func TestAzurePartNeedsContentType(t *testing.T) {
	az := servertest.Start(t, server.Config{Azure: true})
	plain := servertest.Start(t, server.Config{})
	k := "api-key: " + key
	const msg = "The file has no or an empty content type specified."
	for _, first := range []bool{true, false} {
		id := azureCreate(t, az, 3, k)
		parts := "/openai/uploads/" + id + "/parts?api-version=" + azureVersion
		for _, header := range [][]string{nil, {"Content-Type: "}} {
			body, ct := dataPart(t, "data", header, []byte("abc"), first)
			wantAzureError(t, azureDo(t, az, "POST", parts, body, ct, k), 400, "invalidPayload", msg)
			plainID := createUpload(t, plain, key, 3)
			wantOK(t, plain.Do(t, "POST", "/uploads/"+plainID+"/parts", key, body, ct))
		}
		body, ct := dataPart(t, "data", []string{"Content-Type: text/plain"}, []byte("abc"), first)
		wantOK(t, azureDo(t, az, "POST", parts, body, ct, k))
		if l := wantOK(t, azureDo(t, az, "GET", "/openai/v1/uploads/"+id+"/parts", nil, "", k))["data"].([]any); len(l) != 1 {
			t.Fatalf("refused parts were stored: %v", l)
		}
	}

	files := "/openai/files?api-version=" + azureVersion
	body, ct := dataPart(t, "file", nil, []byte("hello\n"), false)
	wantAzureError(t, azureDo(t, az, "POST", files, body, ct, k), 400, "invalidPayload", msg)
	wantOK(t, plain.Do(t, "POST", "/files", key, body, ct))
	body, ct = dataPart(t, "file", []string{"Content-Type: application/octet-stream"}, []byte("hello\n"), false)
	if f := wantOK(t, azureDo(t, az, "POST", files, body, ct, k)); f["object"] != "file" || f["bytes"] != float64(6) {
		t.Fatalf("POST /openai/files = %v", f)
	}
}

// Strict mode combines with Azure mode: the extensions are Azure's 404, the
// part object has its four fields.
func TestAzureStrictMode(t *testing.T) {
	s := servertest.Start(t, server.Config{Azure: true, Strict: true})
	k := "api-key: " + key
	id := azureCreate(t, s, 3, k)
	for _, p := range []string{"/openai/uploads/" + id + "?api-version=" + azureVersion, "/openai/v1/uploads/" + id + "/parts"} {
		wantAzureError(t, azureDo(t, s, "GET", p, nil, "", k), 404, "404", "Resource not found")
	}
	body, ct := multipartBody(t, "data", []byte("abc"))
	part := wantOK(t, azureDo(t, s, "POST", "/openai/v1/uploads/"+id+"/parts", body, ct, k))
	if got := slices.Sorted(maps.Keys(part)); !slices.Equal(got, []string{"created_at", "id", "object", "upload_id"}) {
		t.Fatalf("strict part object has the fields %v", got)
	}
}

// The faults apply to Azure's paths as to OpenAI's.
func TestAzureFaultsAreInjected(t *testing.T) {
	inj := mustInjector(t, 1, "503")
	s := servertest.Start(t, server.Config{Azure: true}, inj.Wrap)
	k := "api-key: " + key
	id := azureCreate(t, s, 3, k)
	body, ct := multipartBody(t, "data", []byte("abc"))
	for _, p := range []string{"/openai/uploads/" + id + "/parts?api-version=" + azureVersion, "/openai/v1/uploads/" + id + "/parts"} {
		if r := azureDo(t, s, "POST", p, body, ct, k); r.Status != 503 {
			t.Fatalf("POST %s with a fault rate of 1: %d %s", p, r.Status, r.Body)
		}
	}
	if inj.Injected() != 2 {
		t.Fatalf("injected = %d, want 2", inj.Injected())
	}
}

// Run announces the endpoint an Azure client takes (no /v1, no /openai).
func TestAzureRunAnnouncesTheEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{Config: server.Config{Azure: true}, Addr: "127.0.0.1:0", DataDir: t.TempDir(),
			Ready: func(u string) { ready <- u }})
	}()
	var endpoint string
	select {
	case endpoint = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not get ready")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || strings.Count(endpoint, "/") != 2 {
		t.Fatalf("Ready(%q), want http://127.0.0.1:PORT", endpoint)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", endpoint+"/openai/files?api-version="+azureVersion, nil)
	req.Header.Set("api-key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", req.URL, res.StatusCode)
	}
}
