// Package server implements the OpenAI Uploads and Files API over HTTP on top
// of a durable store: the routes, authentication and organizations, request
// validation, the error envelope and the request log.
//
// Every answer is JSON (except a file's content), every failure is the API's
// error envelope, and no input makes a handler panic or answer 500 unless the
// machine itself fails.
//
// New builds the API's handler and nothing else; Run assembles a whole
// server around it, with the injected faults, latency and throttling of
// package faults (tests compose the same wrappers with servertest).
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/uploads-dev/uploads/internal/store"
)

// Defaults of the limits, in bytes.
const (
	DefaultMaxPartSize   = 64 << 20 // 67,108,864
	DefaultMaxUploadSize = 8 << 30  // 8,589,934,592
	DefaultMaxFileSize   = 512 << 20
	DefaultUploadTTL     = time.Hour
)

// Config is what a Server needs. Zero limits take their defaults.
type Config struct {
	Store *store.Store
	// Keys maps each accepted API key to its organization. Empty: any
	// non-empty key is accepted and is its own organization.
	Keys          map[string]string
	Purposes      Purposes
	UploadTTL     time.Duration
	MaxPartSize   int64
	MaxUploadSize int64
	MaxFileSize   int64
	// Strict offers exactly the real service's documented surface: no
	// GET /v1/uploads/{id} or GET /v1/uploads/{id}/parts (404, as any
	// unknown URL), and part objects with only id, object, created_at and
	// upload_id. The default adds those two endpoints and each part's bytes
	// and md5, which `uploads parts list` and resuming clients use.
	Strict bool
	// Azure serves the Azure OpenAI shape of the same API instead of
	// OpenAI's (see azure.go): the routes /openai/{uploads,files}… with a
	// dated api-version and /openai/v1/{uploads,files}…, the api-key
	// header (or a bearer token), Azure's errors for a missing api-version,
	// a refused credential and a file part without a Content-Type; the
	// /v1/… routes answer 404. Validation, states and objects are
	// unchanged, and Strict applies as in the default shape.
	Azure bool
	// ProcessDelay is how long a new file stays "uploaded" before it is
	// "processed" (or "error"); 0 processes it at once. The status is
	// computed when the file is read, from its creation time, so it holds
	// across a restart.
	ProcessDelay time.Duration
	// ProcessFail is a path.Match pattern: a file whose filename matches
	// ends in status "error", with status_details saying why, instead of
	// "processed". Empty fails nothing. Check it with CheckProcessFail.
	ProcessFail string
	// Logger receives one line per request; nil logs nothing.
	Logger *slog.Logger
}

// Server is the API's http.Handler.
type Server struct {
	Config
	store   *store.Store
	log     *slog.Logger
	handler http.Handler
}

// New builds the handler for cfg.
func New(cfg Config) *Server {
	if cfg.Purposes == nil {
		cfg.Purposes = DefaultPurposes()
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = DefaultUploadTTL
	}
	if cfg.MaxPartSize <= 0 {
		cfg.MaxPartSize = DefaultMaxPartSize
	}
	if cfg.MaxUploadSize <= 0 {
		cfg.MaxUploadSize = DefaultMaxUploadSize
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{Config: cfg, store: cfg.Store, log: log}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.handleHealth)
	// The same routes under each prefix: /v1, or Azure's two forms.
	prefixes := []string{"/v1"}
	if cfg.Azure {
		prefixes = []string{"/openai", "/openai/v1"}
	}
	for _, p := range prefixes {
		mux.Handle(p+"/uploads", s.auth(methods{http.MethodPost: s.createUpload}))
		if cfg.Strict {
			// The extensions are unknown URLs, answered as such before auth.
			mux.HandleFunc("GET "+p+"/uploads/{id}/parts", s.unknownURL)
		} else {
			mux.Handle(p+"/uploads/{id}", s.auth(methods{http.MethodGet: s.getUpload}))
		}
		mux.Handle(p+"/uploads/{id}/parts", s.auth(http.HandlerFunc(s.handleParts)))
		mux.Handle(p+"/uploads/{id}/complete", s.auth(methods{http.MethodPost: s.completeUpload}))
		mux.Handle(p+"/uploads/{id}/cancel", s.auth(methods{http.MethodPost: s.cancelUpload}))
		mux.Handle(p+"/files", s.auth(methods{http.MethodGet: s.listFiles, http.MethodPost: s.createFile}))
		mux.Handle(p+"/files/{id}", s.auth(methods{http.MethodGet: s.getFile, http.MethodDelete: s.deleteFile}))
		mux.Handle(p+"/files/{id}/content", s.auth(methods{http.MethodGet: s.fileContent, http.MethodHead: s.fileContent}))
	}
	mux.HandleFunc("/", s.unknownURL)
	var h http.Handler = mux
	if cfg.Azure {
		h = s.azureAPIVersion(h)
	}
	s.handler = s.logged(s.recovered(s.canonicalPaths(h)))
	return s
}

// unknownURL answers a path (or, in strict mode, an extension) that the API
// does not have.
func (s *Server) unknownURL(w http.ResponseWriter, r *http.Request) {
	if s.Azure {
		writeAzureError(w, errAzureNotFound)
		return
	}
	writeError(w, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: strPtr("unknown_url"),
		Message: fmt.Sprintf("Invalid URL (%s %s): this server implements /v1/uploads and /v1/files.", r.Method, r.URL.Path)})
}

// canonicalPaths answers a request whose path is not canonical (a doubled
// slash, "." or "..") with the JSON 404 of an unknown URL, naming the
// canonical path. The ServeMux would redirect it instead, with an HTML body
// (or none), and every answer of the API is JSON.
func (s *Server) canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		c := path.Clean("/" + p)
		if strings.HasSuffix(p, "/") && c != "/" {
			c += "/"
		}
		if r.Method != http.MethodConnect && c != p {
			if s.Azure {
				writeAzureError(w, errAzureNotFound) // as Azure answers any URL it does not route
				return
			}
			writeError(w, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: strPtr("unknown_url"),
				Message: fmt.Sprintf("Invalid URL (%s %s): the path is not canonical; use %s (check the base URL for a trailing or doubled slash).", r.Method, p, c)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// methods dispatches on the request method and answers others with a JSON 405.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: strPtr("method_not_allowed"),
		Message: fmt.Sprintf("%s is not allowed on %s; use %s.", r.Method, r.URL.Path, strings.Join(allowed, " or "))})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type orgKey struct{}

// org is the organization of the request's key, set by auth.
func org(r *http.Request) string { v, _ := r.Context().Value(orgKey{}).(string); return v }

// OrgOf is the organization a key belongs to when no keys are configured.
func OrgOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "org-" + hex.EncodeToString(sum[:8])
}

// auth lets a request with an accepted key through, with its organization
// in the context, and answers any other with a 401.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authorize := s.bearerAuth
		if s.Azure {
			authorize = s.azureAuth
		}
		o, ok := authorize(w, r)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), orgKey{}, o)))
	})
}

// bearerAuth is OpenAI's authentication: Authorization: Bearer KEY. It
// returns the key's organization, or answers the 401 and false.
func (s *Server) bearerAuth(w http.ResponseWriter, r *http.Request) (string, bool) {
	key, ok := bearerToken(r)
	if !ok {
		writeError(w, &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: strPtr("invalid_api_key"),
			Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or set OPENAI_API_KEY."})
		return "", false
	}
	o, ok := s.keyOrg(key)
	if !ok {
		writeError(w, &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: strPtr("invalid_api_key"),
			Message: "Incorrect API key provided. Use one of the keys this server was started with (--api-key)."})
	}
	return o, ok
}

// bearerToken is the token of an "Authorization: Bearer TOKEN" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	key = strings.TrimSpace(key)
	return key, strings.EqualFold(scheme, "Bearer") && key != ""
}

// keyOrg is the organization of an accepted key; ok is false for a key
// this server does not accept.
func (s *Server) keyOrg(key string) (org string, ok bool) {
	if len(s.Keys) == 0 {
		return OrgOf(key), true
	}
	org, ok = s.Keys[key]
	return org, ok
}

func (s *Server) recovered(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel passed to panic
					panic(v)
				}
				s.fail(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status and size of an answer for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (for Hijack and Flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		body := &countingBody{ReadCloser: r.Body}
		// Count on a shallow copy of the request, never on the server's own:
		// net/http looks at the original request's Body (its own type) to
		// learn that a handler left a large body unread, and only then
		// half-closes and waits before closing the connection. Replacing it
		// made the server close at once, and the kernel's RST could destroy
		// an early refusal (a part on an upload that is not pending, or too
		// large) before the client read it: the client saw "connection reset
		// by peer", and the SDK retried.
		r = r.WithContext(r.Context())
		r.Body = body
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int64("in", body.n), slog.Int64("out", sw.bytes),
			slog.Duration("took", time.Since(start)), slog.String("remote", r.RemoteAddr))
	})
}
