package server_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// fuzzMethods are the methods FuzzHandlers picks from by index.
var fuzzMethods = []string{"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}

const fuzzKey = "sk-fuzz"

// fuzzWorld is the fuzzed server and the objects it holds. Inputs name them
// with placeholders in the path or the body ($UPLOAD, $PART, $DONE, $FILE,
// $FILE2), so that the committed corpus reaches existing objects whatever ids
// this run generated:
//
//   - $UPLOAD is a pending upload (10 bytes declared) and $PART one of its
//     parts (5 bytes); when an input cancels or completes it, or fills it
//     with parts, the next input gets a fresh one;
//   - $DONE is a completed upload;
//   - $FILE and $FILE2 are files; one that an input deleted is replaced.
type fuzzWorld struct {
	s                               *servertest.Server
	org                             string
	upload, part, done, file, file2 string
	azure                           bool // paths under /v1/ are sent to their Azure form
}

func (w *fuzzWorld) expand(s string) string {
	return strings.NewReplacer("$UPLOAD", w.upload, "$PART", w.part, "$DONE", w.done,
		"$FILE2", w.file2, "$FILE", w.file).Replace(s)
}

// call sends a request straight to the handler and returns the answer's
// status and JSON object.
func (w *fuzzWorld) call(tb testing.TB, method, path, contentType string, body []byte) (int, map[string]any) {
	tb.Helper()
	req := httptest.NewRequest(method, w.route(path), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fuzzKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	w.s.API.ServeHTTP(rec, req)
	var obj map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &obj)
	return rec.Code, obj
}

// must is call for a request that has to succeed with a JSON object.
func (w *fuzzWorld) must(tb testing.TB, method, path, contentType string, body []byte) map[string]any {
	tb.Helper()
	status, obj := w.call(tb, method, path, contentType, body)
	if status != http.StatusOK || obj == nil {
		tb.Fatalf("fuzz setup: %s %s: %d %v", method, path, status, obj)
	}
	return obj
}

func (w *fuzzWorld) newUpload(tb testing.TB, purpose, mimeType string, data []byte) (uploadID, partID string) {
	tb.Helper()
	create, _ := json.Marshal(map[string]any{"filename": "seed.txt", "purpose": purpose, "bytes": 2 * len(data), "mime_type": mimeType})
	uploadID = w.must(tb, "POST", "/v1/uploads", "application/json", create)["id"].(string)
	body, ct := fuzzMultipart(tb, "data", "part", data)
	partID = w.must(tb, "POST", "/v1/uploads/"+uploadID+"/parts", ct, body)["id"].(string)
	return uploadID, partID
}

func (w *fuzzWorld) newFile(tb testing.TB) string {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("purpose", "user_data")
	fw, _ := mw.CreateFormFile("file", "c.txt")
	_, _ = fw.Write([]byte("posted\n"))
	_ = mw.Close()
	return w.must(tb, "POST", "/v1/files", mw.FormDataContentType(), buf.Bytes())["id"].(string)
}

// fuzzStart starts a server (strict or not, Azure or not) and creates the
// objects of the placeholders.
func fuzzStart(f *testing.F, strict, azure bool) *fuzzWorld {
	w := &fuzzWorld{s: servertest.Start(f, server.Config{Strict: strict, Azure: azure}), org: server.OrgOf(fuzzKey), azure: azure}
	w.upload, w.part = w.newUpload(f, "assistants", "text/plain", []byte("hello"))
	var p string
	w.done, p = w.newUpload(f, "batch", "application/jsonl", []byte("{}\n"))
	ids, _ := json.Marshal(map[string]any{"part_ids": []string{p, w.newPart(f, w.done, []byte("{}\n"))}})
	w.file = w.must(f, "POST", "/v1/uploads/"+w.done+"/complete", "application/json", ids)["file"].(map[string]any)["id"].(string)
	w.file2 = w.newFile(f)
	return w
}

func (w *fuzzWorld) newPart(tb testing.TB, uploadID string, data []byte) string {
	tb.Helper()
	body, ct := fuzzMultipart(tb, "data", "part", data)
	return w.must(tb, "POST", "/v1/uploads/"+uploadID+"/parts", ct, body)["id"].(string)
}

// refresh replaces the objects the last input used up.
func (w *fuzzWorld) refresh(tb testing.TB) {
	tb.Helper()
	u, err := w.s.Store.GetUpload(w.org, w.upload)
	if err != nil || u.Status != "pending" || u.Received > 4<<20 {
		if err == nil && u.Status == "pending" {
			w.call(tb, "POST", "/v1/uploads/"+w.upload+"/cancel", "", nil) // frees the parts' disk space
		}
		w.upload, w.part = w.newUpload(tb, "assistants", "text/plain", []byte("hello"))
	}
	if _, err := w.s.Store.GetFile(w.org, w.file); err != nil {
		w.file = w.newFile(tb)
	}
	if _, err := w.s.Store.GetFile(w.org, w.file2); err != nil {
		w.file2 = w.newFile(tb)
	}
}

func fuzzMultipart(tb testing.TB, field, filename string, data []byte) ([]byte, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile(field, filename)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = w.Write(data)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// fuzzAPIVersion is the api-version the Azure world adds to the paths it
// moves under /openai/.
const fuzzAPIVersion = "2024-10-21"

// route is the request URI of target in w: in the Azure world, a path under
// /v1/ goes to the classic Azure form, /openai/…?api-version=…, so that the
// inputs written for OpenAI's paths reach the Azure routes; other paths
// (those of the Azure inputs under /openai/ among them) are sent as they are.
func (w *fuzzWorld) route(target string) string {
	rest, ok := strings.CutPrefix(target, "/v1/")
	if !w.azure || !ok {
		return target
	}
	sep := "?"
	if strings.Contains(rest, "?") {
		sep = "&"
	}
	return "/openai/" + rest + sep + "api-version=" + fuzzAPIVersion
}

// fuzzTarget turns a fuzzed path into a request URI: "/v1/" is prefixed
// unless the path starts with "/", and anything url.ParseRequestURI refuses
// (spaces, control characters, bad escapes) is escaped.
func fuzzTarget(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/v1/" + p
	}
	if u, err := url.ParseRequestURI(p); err == nil && !strings.ContainsAny(p, " \t\r\n#") && u.Host == "" && u.Scheme == "" {
		return p
	}
	pathPart, query, _ := strings.Cut(p, "?")
	u := &url.URL{Path: pathPart, RawQuery: url.PathEscape(query)}
	return u.RequestURI()
}

// FuzzHandlers sends arbitrary requests to the handler, in the default mode,
// in strict mode and in Azure mode, and checks that none panics or answers
// 500, and that every answer but a file's content is a JSON object, errors
// in the API's envelope (or, in Azure mode, in one of Azure's bodies).
func FuzzHandlers(f *testing.F) {
	worlds := []*fuzzWorld{fuzzStart(f, false, false), fuzzStart(f, true, false), fuzzStart(f, false, true)}

	const ( // indexes into fuzzMethods
		get uint8 = iota
		post
		del
		put
		_ // PATCH
		head
		options
	)
	mp := func(field string, data string) (string, []byte) {
		b, ct := fuzzMultipart(f, field, "x.bin", []byte(data))
		return ct, b
	}
	partCT, partBody := mp("data", "abc")
	fileCT, fileBody := mp("file", "hello")
	noDataCT, noDataBody := mp("other", "abc")
	// A data field without a Content-Type: refused in Azure mode only.
	bareCT, bareBody := "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"data\"; filename=\"p\"\r\n\r\nabc\r\n--x--\r\n")
	azureCreate := []byte(`{"filename":"x","purpose":"batch","bytes":1,"mime_type":"text/plain"}`)
	adds := []struct {
		method      uint8
		path, ct    string
		body        []byte
		auth        bool
		description string
		headers     string
	}{
		{get, "/healthz", "", nil, false, "health", ""},
		{get, "/v1/files", "", nil, true, "list", ""},
		{get, "/v1/files?limit=1&order=asc&purpose=batch", "", nil, true, "list page", ""},
		{get, "/v1/files?after=$FILE&limit=0", "", nil, true, "bad limit", ""},
		{get, "/v1/files?order=sideways", "", nil, true, "bad order", ""},
		{get, "/v1/files?after=file-nope", "", nil, true, "bad cursor", ""},
		{get, "/v1/files/$FILE", "", nil, true, "get file", ""},
		{get, "/v1/files/$FILE/content", "", nil, true, "content", ""},
		{get, "/v1/files/$FILE2/content", "", nil, false, "content without key", ""},
		{del, "/v1/files/$FILE2", "", nil, true, "delete", ""},
		{get, "/v1/uploads/$UPLOAD", "", nil, true, "get upload", ""},
		{get, "/v1/uploads/$UPLOAD/parts", "", nil, true, "list parts", ""},
		{post, "/v1/uploads/$UPLOAD/parts", partCT, partBody, true, "add part", ""},
		{post, "/v1/uploads/$UPLOAD/parts", noDataCT, noDataBody, true, "multipart without data", ""},
		{post, "/v1/uploads/$UPLOAD/parts", partCT, partBody[:len(partBody)/2], true, "truncated multipart", ""},
		{post, "/v1/uploads/$UPLOAD/parts", "multipart/form-data", partBody, true, "no boundary", ""},
		{post, "/v1/uploads/$UPLOAD/parts", "application/json", []byte(`{"data":"abc"}`), true, "json part", ""},
		{post, "/v1/uploads/$DONE/parts", partCT, partBody, true, "part on completed", ""},
		{put, "/v1/uploads/$UPLOAD/parts", "", nil, true, "method on parts", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":"x","purpose":"batch","bytes":1,"mime_type":"text/plain"}`), true, "create", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":"x","purpose":"batch","bytes":1,`), true, "malformed json", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":7,"purpose":["batch"],"bytes":"1","mime_type":null}`), true, "wrong types", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":"x","purpose":"batch","bytes":99999999999999999999999,"mime_type":"text/plain"}`), true, "huge number", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":"x","purpose":"batch","bytes":1e3,"mime_type":"text/plain"}`), true, "float", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":"x","purpose":"batch","bytes":1,"mime_type":"text/plain","expires_after":{"anchor":"created_at","seconds":-9223372036854775808}}`), true, "expiry", ""},
		{post, "/v1/uploads", "application/json", []byte(`{"filename":"x","purpose":"batch","bytes":1,"mime_type":"text/plain","expires_after":[]}`), true, "expiry type", ""},
		{post, "/v1/uploads", "application/json", []byte(`[]`), true, "array", ""},
		{post, "/v1/uploads", "application/json", []byte(`{} {}`), true, "two objects", ""},
		{post, "/v1/uploads/$UPLOAD/complete", "application/json", []byte(`{"part_ids":["$PART","$PART"]}`), true, "duplicate ids", ""},
		{post, "/v1/uploads/$UPLOAD/complete", "application/json", []byte(`{"part_ids":["$PART"],"md5":"zz"}`), true, "bad md5", ""},
		{post, "/v1/uploads/$UPLOAD/complete", "application/json", []byte(`{"part_ids":[1,2]}`), true, "ids of numbers", ""},
		{post, "/v1/uploads/$UPLOAD/complete", "application/json", []byte(`{"part_ids":[]}`), true, "empty ids", ""},
		{post, "/v1/uploads/$DONE/complete", "application/json", []byte(`{"part_ids":["$PART"]}`), true, "complete twice", ""},
		{post, "/v1/uploads/$DONE/cancel", "", nil, true, "cancel completed", ""},
		{post, "/v1/files", fileCT, fileBody, true, "files without purpose", ""},
		{post, "/v1/files", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--x"), true, "truncated files", ""},
		{get, "/v1/nowhere", "", nil, true, "unknown route", ""},
		{get, "/v1/files/$FILE/content/more", "", nil, true, "unknown deeper route", ""},
		{get, "/v1/uploads/", "", nil, true, "trailing slash", ""},
		{get, "/v1//files", "", nil, true, "double slash", ""},
		{post, "/v1/uploads/../files", "", nil, true, "dot dot", ""},
		{get, "/v1/files/%2e%2e", "", nil, true, "escaped dots", ""},
		{get, "/v1/files/a%2Fb/content", "", nil, true, "escaped slash", ""},
		{head, "/v1/files/$FILE/content", "", nil, true, "HEAD content", ""},
		{head, "/v1/files/$FILE", "", nil, true, "HEAD elsewhere", ""},
		{options, "/v1/uploads", "", nil, true, "OPTIONS", ""},
		{200, "v1/files", "", nil, true, "method index wraps", ""},
		{get, "/v1/files/$FILE/content", "", nil, true, "range", "Range: bytes=1-2"},
		{get, "/v1/files/$FILE/content", "", nil, true, "ranges", "Range: bytes=0-0,2-3"},
		{get, "/v1/files/$FILE/content", "", nil, true, "range past the end", "Range: bytes=100-200"},
		{get, "/v1/files/$FILE/content", "", nil, true, "bad range", "Range: bytes=x"},
		{get, "/v1/files/$FILE/content", "", nil, true, "if-match", "If-Match: \"nope\""},
		{head, "/v1/files/$FILE/content", "", nil, true, "if-unmodified-since", "If-Unmodified-Since: Mon, 01 Jan 1990 00:00:00 GMT"},
		{get, "/v1/files/$FILE/content", "", nil, true, "if-modified-since", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\nAccept: application/binary"},
		{get, "/v1/files", "", nil, false, "basic auth", "Authorization: Basic dXNlcjpwYXNz"},
		{post, "/v1/uploads", "application/json", []byte(`{}`), false, "bearer without key", "Authorization: Bearer   "},
		{post, "/v1/uploads/$UPLOAD/parts", bareCT, bareBody, true, "part without content type", ""},
		{post, "/openai/uploads?api-version=2024-10-21", "application/json", azureCreate, true, "azure create", ""},
		{post, "/openai/uploads", "application/json", azureCreate, true, "azure without api-version", ""},
		{get, "/openai/files?api-version=2024-02-30", "", nil, true, "azure bad date", ""},
		{get, "/openai/files?api-version=2024-10-21&api-version=x", "", nil, true, "azure two versions", ""},
		{get, "/openai/v1/files?api-version=preview", "", nil, true, "azure v1", ""},
		{get, "/openai/v1/files?api-version=2024-10-21", "", nil, true, "azure v1 dated", ""},
		{get, "/openai/v1/files/$FILE/content", "", nil, false, "azure api-key", "Api-Key: " + fuzzKey},
		{get, "/openai/v1/files", "", nil, false, "azure empty api-key", "Api-Key:  "},
		{post, "/openai/v1/uploads/$UPLOAD/parts", bareCT, bareBody, false, "azure bare part", "Api-Key: " + fuzzKey},
		{get, "/openai/deployments/d/files?api-version=2024-10-21", "", nil, true, "azure deployment path", ""},
	}
	for _, a := range adds {
		f.Add(a.method, a.path, a.ct, a.body, a.auth, a.headers)
	}

	f.Fuzz(func(t *testing.T, methodIndex uint8, path, contentType string, body []byte, auth bool, headers string) {
		if len(body) > 64<<10 {
			t.Skip("bodies are kept small: every accepted part is written to disk")
		}
		method := fuzzMethods[int(methodIndex)%len(fuzzMethods)]
		for _, world := range worlds {
			fuzzOne(t, world, method, path, contentType, body, auth, headers)
		}
	})
}

// fuzzOne sends one fuzzed request to world's server and checks the answer.
func fuzzOne(t *testing.T, world *fuzzWorld, method, path, contentType string, body []byte, auth bool, headers string) {
	world.refresh(t)
	target := world.route(fuzzTarget(world.expand(path)))
	body = []byte(world.expand(string(body)))
	req, err := http.NewRequest(method, "http://uploads.test"+target, bytes.NewReader(body))
	if err != nil {
		t.Skipf("not a request: %v", err)
	}
	req.RequestURI = target
	req.RemoteAddr = "192.0.2.1:1234"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+fuzzKey)
	}
	fuzzHeaders(req.Header, world.expand(headers))
	w := httptest.NewRecorder()
	world.s.API.ServeHTTP(w, req)
	res := w.Result()
	got := w.Body.Bytes()
	mode := "default"
	switch {
	case world.azure:
		mode = "azure"
	case world.s.API.Strict:
		mode = "strict"
	}
	if res.StatusCode >= 500 {
		t.Fatalf("%s mode: %s %s (Content-Type %q, %d-byte body): %d\n%s", mode, method, target, contentType, len(body), res.StatusCode, got)
	}
	if (method == "GET" || method == "HEAD") && strings.HasSuffix(req.URL.Path, "/content") {
		switch res.StatusCode {
		case http.StatusOK, http.StatusPartialContent, http.StatusNotModified:
			return // a file's bytes, some of them, or none as asked
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(got, &obj); err != nil || obj == nil {
		t.Fatalf("%s mode: %s %s: %d answer is not a JSON object (%v):\n%q", mode, method, target, res.StatusCode, err, got)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s mode: %s %s: %d answer has Content-Type %q, want application/json", mode, method, target, res.StatusCode, ct)
	}
	if res.StatusCode == http.StatusOK {
		if _, isErr := obj["error"]; isErr {
			t.Fatalf("%s mode: %s %s: 200 with an error body: %s", mode, method, target, got)
		}
		return
	}
	if res.StatusCode < 400 {
		t.Fatalf("%s mode: %s %s: status %d, want 200 or an error\n%s", mode, method, target, res.StatusCode, got)
	}
	if world.azure {
		fuzzCheckAzureError(t, mode+" mode: "+method+" "+target, got)
		return
	}
	fuzzCheckError(t, mode+" mode: "+method+" "+target, got)
}

// fuzzCheckAzureError checks an error answer in Azure mode: Azure's
// {"error":{"code":"…","message":"…"}}, the gateway's
// {"statusCode":401,"message":"…"} for a refused token, or the API's own
// envelope (the handlers' validation is the same in both shapes).
func fuzzCheckAzureError(t *testing.T, what string, body []byte) {
	t.Helper()
	var env struct {
		Error      map[string]json.RawMessage `json:"error"`
		StatusCode int                        `json:"statusCode"`
		Message    string                     `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%s: not a JSON object: %s", what, body)
	}
	switch {
	case env.Error == nil:
		if env.StatusCode != http.StatusUnauthorized || strings.TrimSpace(env.Message) == "" {
			t.Fatalf("%s: error answer without an error object: %s", what, body)
		}
	case env.Error["type"] == nil:
		var code, msg string
		if json.Unmarshal(env.Error["code"], &code) != nil || code == "" ||
			json.Unmarshal(env.Error["message"], &msg) != nil || strings.TrimSpace(msg) == "" || len(env.Error) != 2 {
			t.Fatalf("%s: not Azure's error body {code, message}: %s", what, body)
		}
	default:
		fuzzCheckError(t, what, body)
	}
}

// fuzzHeaders adds the "Name: value" lines of headers that an HTTP server
// would accept, except those that frame the request.
func fuzzHeaders(h http.Header, headers string) {
	for _, line := range strings.Split(headers, "\n") {
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.IndexFunc(name, func(r rune) bool {
			return r <= ' ' || r >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r)
		}) >= 0 || strings.IndexFunc(value, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
			continue
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
			continue
		}
		h.Add(name, value)
	}
}

// fuzzCheckError checks the error envelope
// {"error":{"message":"…","type":"…","param":…,"code":…}}.
func fuzzCheckError(t *testing.T, what string, body []byte) {
	t.Helper()
	var env struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		t.Fatalf("%s: error answer without an error object: %s", what, body)
	}
	var msg, typ string
	if json.Unmarshal(env.Error["message"], &msg) != nil || strings.TrimSpace(msg) == "" {
		t.Fatalf("%s: error message is not a non-empty string: %s", what, body)
	}
	if json.Unmarshal(env.Error["type"], &typ) != nil || typ == "" {
		t.Fatalf("%s: error type is not a non-empty string: %s", what, body)
	}
	for _, k := range []string{"param", "code"} {
		raw, ok := env.Error[k]
		if !ok {
			t.Fatalf("%s: error has no %q: %s", what, k, body)
		}
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: error %q is neither a string nor null: %s", what, k, body)
		}
	}
}
