package server_test

// The official Go SDK's Azure client (github.com/openai/openai-go/v3/azure)
// against the server in Azure mode, over real HTTP: what it sends is what a
// client configured for a real resource sends (azure.WithEndpoint puts
// /openai before every path and api-version on every request,
// azure.WithAPIKey sends the api-key header, azure.WithTokenCredential an
// Entra ID bearer token), and it must be accepted, answered and refused as a
// real resource would.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

// sdkAPIVersion is the api-version the SDK clients are configured with.
const sdkAPIVersion = "2025-04-01-preview"

// azureSent records what reached the server: each request's method, path
// and query, and its credential headers.
type azureSent struct {
	mu       sync.Mutex
	requests []sentRequest
}

type sentRequest struct {
	method, path string
	query        url.Values
	apiKey, auth string
}

func (a *azureSent) all() []sentRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}

func (a *azureSent) count(method, path string) int {
	n := 0
	for _, r := range a.all() {
		if r.method == method && r.path == path {
			n++
		}
	}
	return n
}

// wrap records each request the server receives (a servertest wrapper).
func (a *azureSent) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, sentRequest{r.Method, r.URL.Path, r.URL.Query(), r.Header.Get("Api-Key"), r.Header.Get("Authorization")})
		a.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// startAzure starts a server in Azure mode with cfg and the recorder of the
// requests it receives.
func startAzure(t *testing.T, cfg server.Config) (*servertest.Server, *azureSent) {
	cfg.Azure = true
	sent := &azureSent{}
	return servertest.Start(t, cfg, sent.wrap), sent
}

// azureSDKClient is the SDK's Azure client for s, authenticated by auth
// (azure.WithAPIKey or azure.WithTokenCredential). Plain HTTP to a loopback
// address needs azure.WithUnsafeAllowHTTP, as it would for any local test
// server.
func azureSDKClient(s *servertest.Server, auth option.RequestOption) openai.Client {
	return openai.NewClient(
		azure.WithEndpoint(s.URL, sdkAPIVersion),
		auth,
		azure.WithUnsafeAllowHTTP(),
		option.WithRequestTimeout(30*time.Second),
	)
}

// TestAzureSDKLifecycle runs the whole flow with the Azure client and an API
// key: create, parts out of order, a refused complete, complete, the file's
// metadata, content and listing, a file by POST /files, delete, and a
// cancel; in the default shape and in strict mode.
func TestAzureSDKLifecycle(t *testing.T) {
	for _, mode := range []struct {
		name   string
		strict bool
	}{{"default", false}, {"strict", true}} {
		t.Run(mode.name, func(t *testing.T) { testAzureSDKLifecycle(t, mode.strict) })
	}
}

func testAzureSDKLifecycle(t *testing.T, strict bool) {
	s, sent := startAzure(t, server.Config{Strict: strict, Keys: map[string]string{"azure-key": "org-a"}})
	c := azureSDKClient(s, azure.WithAPIKey("azure-key"))
	ctx := context.Background()

	data := sdkBytes(21, 200<<10+17)
	chunks := [][]byte{data[:64<<10], data[64<<10 : 128<<10], data[128<<10:]}
	up, err := c.Uploads.New(ctx, openai.UploadNewParams{
		Bytes: int64(len(data)), Filename: "train.jsonl", MimeType: "application/jsonl", Purpose: openai.FilePurposeFineTune,
	})
	if err != nil {
		t.Fatalf("Uploads.New: %v", err)
	}
	if up.Status != openai.UploadStatusPending || up.Bytes != int64(len(data)) || up.Purpose != "fine-tune" {
		t.Fatalf("new upload: %s", up.RawJSON())
	}
	first := sent.all()[0]
	if first.method != "POST" || first.path != "/openai/uploads" || first.query.Get("api-version") != sdkAPIVersion ||
		first.apiKey != "azure-key" || first.auth != "" {
		t.Fatalf("the SDK sent %+v, want POST /openai/uploads?api-version=%s with the api-key header only", first, sdkAPIVersion)
	}

	partIDs := make([]string, len(chunks))
	for _, i := range []int{1, 2, 0} {
		p, err := c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(chunks[i])})
		if err != nil {
			t.Fatalf("Uploads.Parts.New(part %d): %v", i, err)
		}
		if p.Object != "upload.part" || p.UploadID != up.ID {
			t.Fatalf("part %d: %s", i, p.RawJSON())
		}
		partIDs[i] = p.ID
	}

	// A wrong MD5 is the handlers' 400, sent once.
	completePath := "/openai/uploads/" + up.ID + "/complete"
	_, err = c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: partIDs, Md5: openai.String(sdkMD5(chunks[0]))})
	sdkAPIError(t, err, http.StatusBadRequest, "md5", "")
	if n := sent.count("POST", completePath); n != 1 {
		t.Fatalf("the refused complete was sent %d times, want 1", n)
	}
	done, err := c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: partIDs, Md5: openai.String(sdkMD5(data))})
	if err != nil {
		t.Fatalf("Uploads.Complete: %v", err)
	}
	if done.Status != openai.UploadStatusCompleted || done.File.Bytes != int64(len(data)) {
		t.Fatalf("completed upload: %s", done.RawJSON())
	}

	f, err := c.Files.Get(ctx, done.File.ID)
	if err != nil || f.ID != done.File.ID || f.Bytes != int64(len(data)) {
		t.Fatalf("Files.Get = %v, %v", f, err)
	}
	if body, _ := sdkContent(t, c, f.ID); !bytes.Equal(body, data) {
		t.Fatalf("content: %d bytes, want the %d uploaded", len(body), len(data))
	}

	lines := []byte(`{"prompt":"p","completion":"c"}` + "\n")
	posted, err := c.Files.New(ctx, openai.FileNewParams{
		File: openai.File(bytes.NewReader(lines), "small.jsonl", "application/jsonl"), Purpose: openai.FilePurposeFineTune,
	})
	if err != nil {
		t.Fatalf("Files.New: %v", err)
	}
	list, err := c.Files.List(ctx, openai.FileListParams{Order: openai.FileListParamsOrderAsc})
	if err != nil {
		t.Fatalf("Files.List: %v", err)
	}
	if len(list.Data) != 2 || list.Data[0].ID != f.ID || list.Data[1].ID != posted.ID {
		t.Fatalf("Files.List = %s, want %s then %s", list.RawJSON(), f.ID, posted.ID)
	}
	del, err := c.Files.Delete(ctx, f.ID)
	if err != nil || !del.Deleted || del.ID != f.ID {
		t.Fatalf("Files.Delete = %v, %v", del, err)
	}
	_, err = c.Files.Get(ctx, f.ID)
	sdkAPIError(t, err, http.StatusNotFound, "id", "")

	other, err := c.Uploads.New(ctx, openai.UploadNewParams{Bytes: 3, Filename: "x.txt", MimeType: "text/plain", Purpose: openai.FilePurposeAssistants})
	if err != nil {
		t.Fatalf("Uploads.New: %v", err)
	}
	if u, err := c.Uploads.Cancel(ctx, other.ID); err != nil || u.Status != openai.UploadStatusCancelled {
		t.Fatalf("Uploads.Cancel = %v, %v", u, err)
	}

	// Every request went to an Azure path with the version and the key.
	for _, r := range sent.all() {
		if !strings.HasPrefix(r.path, "/openai/") || strings.HasPrefix(r.path, "/openai/v1/") ||
			r.query.Get("api-version") != sdkAPIVersion || r.apiKey != "azure-key" {
			t.Errorf("the SDK sent %+v", r)
		}
	}
}

// TestAzureSDKRefusesAWrongKey: a key the server does not accept is Azure's
// 401, which the SDK reports as an *openai.Error (code "401") without
// retrying.
func TestAzureSDKRefusesAWrongKey(t *testing.T) {
	s, sent := startAzure(t, server.Config{Keys: map[string]string{"azure-key": "org-a"}})
	c := azureSDKClient(s, azure.WithAPIKey("not-the-key"))
	_, err := c.Files.List(context.Background(), openai.FileListParams{})
	e := sdkAPIErrorAzure(t, err, http.StatusUnauthorized, "401")
	if !strings.HasPrefix(e.Message, "Access denied due to invalid subscription key") {
		t.Errorf("message = %q", e.Message)
	}
	if n := len(sent.all()); n != 1 {
		t.Errorf("%d requests sent, want 1 (a 401 is not retried)", n)
	}
}

// sdkAPIErrorAzure asserts that err is an *openai.Error with the given
// status and code, from Azure's body (which has no type or param).
func sdkAPIErrorAzure(t *testing.T, err error, status int, code string) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *openai.Error with status %d, got %T: %v", status, err, err)
	}
	if e.StatusCode != status || e.Code != code || e.Message == "" {
		t.Fatalf("error %d code %q message %q, want %d code %q (%s)", e.StatusCode, e.Code, e.Message, status, code, e.RawJSON())
	}
	return e
}

// fakeCredential stands in for an Entra ID credential (azidentity): it
// hands out a fixed token.
type fakeCredential struct{ token string }

func (c *fakeCredential) GetToken(_ context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestAzureSDKTokenCredential authenticates with azure.WithTokenCredential:
// the SDK sends the token as a bearer token, which the server accepts when
// it is one of its keys (in place of validating an Entra ID token). A token
// it does not accept gets the 401 body Azure's gateway sends for a refused
// token, {"statusCode":401,"message":…}, outside the error envelope: the
// SDK then reports a 401 *openai.Error with an empty message and code.
func TestAzureSDKTokenCredential(t *testing.T) {
	s, sent := startAzure(t, server.Config{Keys: map[string]string{"entra-token": "org-a", "azure-key": "org-a"}})
	cred := &fakeCredential{token: "entra-token"}
	c := azureSDKClient(s, azure.WithTokenCredential(cred))
	ctx := context.Background()
	up, err := c.Uploads.New(ctx, openai.UploadNewParams{Bytes: 3, Filename: "a.txt", MimeType: "text/plain", Purpose: openai.FilePurposeAssistants})
	if err != nil {
		t.Fatalf("Uploads.New with a token: %v", err)
	}
	if _, err := c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader([]byte("abc"))}); err != nil {
		t.Fatalf("Uploads.Parts.New with a token: %v", err)
	}
	for _, r := range sent.all() {
		if r.auth != "Bearer entra-token" || r.apiKey != "" {
			t.Fatalf("the SDK sent Authorization %q and api-key %q, want the bearer token only", r.auth, r.apiKey)
		}
	}
	// The same organization as the API key of the same org.
	k := azureSDKClient(s, azure.WithAPIKey("azure-key"))
	if _, err := k.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: []string{}}); err == nil {
		t.Fatal("complete with no part ids succeeded")
	} else {
		sdkAPIError(t, err, http.StatusBadRequest, "part_ids", "")
	}

	bad := azureSDKClient(s, azure.WithTokenCredential(&fakeCredential{token: "expired"}))
	_, err = bad.Files.List(ctx, openai.FileListParams{})
	var e *openai.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a refused token: %T %v, want a 401 *openai.Error", err, err)
	}
	if raw := e.RawJSON(); raw != "" {
		t.Errorf("a refused token's error decoded %q: the body has no error object", raw)
	}
}

// TestAzureSDKV1Form drives the /openai/v1/ form with the SDK's plain client,
// as Azure documents for the v1 API: base URL {endpoint}/openai/v1/, the key
// as a bearer key, no api-version.
func TestAzureSDKV1Form(t *testing.T) {
	s, sent := startAzure(t, server.Config{Keys: map[string]string{"azure-key": "org-a"}})
	c := openai.NewClient(option.WithBaseURL(s.URL+"/openai/v1/"), option.WithAPIKey("azure-key"), option.WithHTTPClient(s.Client()))
	ctx := context.Background()
	data := sdkBytes(22, 10_000)
	up, err := c.Uploads.New(ctx, openai.UploadNewParams{Bytes: int64(len(data)), Filename: "v1.bin", MimeType: "text/plain", Purpose: openai.FilePurposeAssistants})
	if err != nil {
		t.Fatalf("Uploads.New: %v", err)
	}
	p, err := c.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("Uploads.Parts.New: %v", err)
	}
	done, err := c.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{PartIDs: []string{p.ID}, Md5: openai.String(sdkMD5(data))})
	if err != nil {
		t.Fatalf("Uploads.Complete: %v", err)
	}
	if body, _ := sdkContent(t, c, done.File.ID); !bytes.Equal(body, data) {
		t.Fatal("content differs")
	}
	for _, r := range sent.all() {
		if !strings.HasPrefix(r.path, "/openai/v1/") || r.query.Has("api-version") || r.auth != "Bearer azure-key" {
			t.Errorf("the SDK sent %+v", r)
		}
	}
	// The plain client's usual base URL, /v1/, is not an Azure route.
	plain := openai.NewClient(option.WithBaseURL(s.URL+"/v1/"), option.WithAPIKey("azure-key"), option.WithHTTPClient(s.Client()), option.WithMaxRetries(0))
	_, err = plain.Files.List(ctx, openai.FileListParams{})
	if e := sdkAPIErrorAzure(t, err, http.StatusNotFound, "404"); e.Message != "Resource not found" {
		t.Errorf("message = %q", e.Message)
	}
}
