package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// seen is one request as the server got it.
type seenRequest struct {
	Path, Version, APIKey, Auth string
}

// recorder answers create with an Upload and records each request.
func recorder(t *testing.T) (*httptest.Server, func() []seenRequest) {
	var mu sync.Mutex
	var got []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seenRequest{r.URL.Path, r.URL.Query().Get("api-version"), r.Header.Get("api-key"), r.Header.Get("Authorization")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"up-1","object":"upload","bytes":1,"created_at":1,"expires_at":2,"filename":"a","purpose":"batch","status":"pending"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seenRequest { mu.Lock(); defer mu.Unlock(); return append([]seenRequest(nil), got...) }
}

// Each Azure form sends what Azure expects: the classic endpoint gets
// /openai/… with ?api-version= (the default one when none is set), the v1
// form /openai/v1/… without it; a key goes in api-key, a token (fixed or
// from a command) as a bearer token. Ids are taken as the server gives
// them (no "upload_" prefix assumed).
func TestAzureRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(base string) Config
		want seenRequest
	}{
		{"classic, key, default version", func(b string) Config {
			return Config{APIKey: "k1", Azure: Azure{Endpoint: b}}
		}, seenRequest{"/openai/uploads", DefaultAPIVersion, "k1", ""}},
		{"classic with /openai, version", func(b string) Config {
			return Config{APIKey: "k1", Azure: Azure{Endpoint: b + "/openai/", APIVersion: "2024-10-21"}}
		}, seenRequest{"/openai/uploads", "2024-10-21", "k1", ""}},
		{"classic, token", func(b string) Config {
			return Config{Azure: Azure{Endpoint: b, Token: "tok-1"}}
		}, seenRequest{"/openai/uploads", DefaultAPIVersion, "", "Bearer tok-1"}},
		{"v1, key", func(b string) Config {
			return Config{APIKey: "k2", Azure: Azure{Endpoint: b + "/openai/v1"}}
		}, seenRequest{"/openai/v1/uploads", "", "k2", ""}},
		{"v1, token command", func(b string) Config {
			return Config{Azure: Azure{Endpoint: b + "/openai/v1/", TokenCommand: "echo tok-2"}}
		}, seenRequest{"/openai/v1/uploads", "", "", "Bearer tok-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recorder(t)
			c, err := New(tc.cfg(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			u, err := c.CreateUpload(context.Background(), NewUpload{Filename: "a", Purpose: "batch", Bytes: 1, MimeType: "text/jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != "up-1" {
				t.Errorf("id %q, want the server's up-1", u.ID)
			}
			if g := got(); len(g) != 1 || g[0] != tc.want {
				t.Errorf("requests %+v, want one %+v", g, tc.want)
			}
		})
	}
}

func TestAzureConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{APIKey: "k", Azure: Azure{Endpoint: "resource.openai.azure.com"}}, "is not an http(s) URL"},
		{Config{APIKey: "k", Azure: Azure{Endpoint: "https://r.openai.azure.com", APIVersion: "latest"}}, `API version "latest": expected a date`},
		{Config{Azure: Azure{Endpoint: "https://r.openai.azure.com"}}, "no Azure credential"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tc.cfg.Azure, err, tc.want)
		}
	}
	// A token command that fails says so, with what it printed.
	src := &tokenSource{command: "echo denied >&2; exit 3"}
	if _, err := src.GetToken(context.Background(), policy.TokenRequestOptions{}); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("failing token command: %v", err)
	}
}
