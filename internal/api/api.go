// Package api is the client side of the Uploads and Files API: a thin wrapper
// around the official OpenAI Go SDK (openai-go/v3) that adds what the SDK
// lacks for large uploads — parts streamed from disk with an exact
// Content-Length and never held in memory, a search of the files an upload
// may have made, and a classification of errors into what a caller can do
// about them. It sends only what the real API defines; the one extension
// read of the bundled server (ListParts) serves `uploads parts list` only.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// DefaultBaseURL is the real service.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config says where and how to reach the API.
type Config struct {
	BaseURL      string
	APIKey       string
	Organization string
	Project      string
	// Timeout bounds each attempt of the JSON calls (0: none); complete
	// gets at least MinCompleteTimeout. Parts are bounded by StallTimeout
	// instead.
	Timeout time.Duration
	// StallTimeout is how long a part's bytes may stop moving (or its
	// answer keep away once they are sent) before the request is cut; 0
	// never cuts.
	StallTimeout time.Duration
	// MaxRetries is how often the SDK retries the small JSON calls (create,
	// complete, cancel, files); parts are retried by the caller instead.
	MaxRetries int
	// HTTPClient, when set, carries the requests (tests use the server's),
	// as it is; otherwise a clone of Go's default transport does, speaking
	// HTTP/1.1 so that each part in flight has a TCP connection of its own,
	// with a bound on the bytes a socket holds unsent and more idle
	// connections kept (transport.go).
	HTTPClient *http.Client
	// CACertFile, when set, names a PEM file of certificate authorities
	// trusted besides the system's (a private CA, `uploads serve --tls`).
	// It does not apply to an HTTPClient given above.
	CACertFile string
	// UserAgent is sent with every request.
	UserAgent string
	// Azure, when its Endpoint is set, reaches Azure OpenAI (or a server in
	// its shape) instead of BaseURL.
	Azure Azure
}

// Client calls the API.
type Client struct {
	sdk openai.Client
	cfg Config
	// attempts is how the last attempt that failed failed.
	attempts *attempts
	// now and sleep, when set, replace the real clock in the waits of
	// WaitProcessed (tests move a clock instead of sleeping).
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// ErrNoAPIKey means no key was configured.
var ErrNoAPIKey = errors.New("no API key: set OPENAI_API_KEY, pass --api-key, or put api_key in the config file")

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	var opts []option.RequestOption
	if cfg.Azure.Endpoint != "" {
		azureOpts, err := azureOptions(cfg)
		if err != nil {
			return nil, err
		}
		opts = azureOpts
		cfg.BaseURL = strings.TrimSuffix(cfg.Azure.Endpoint, "/")
	} else {
		if cfg.APIKey == "" {
			return nil, ErrNoAPIKey
		}
		if cfg.BaseURL == "" {
			cfg.BaseURL = DefaultBaseURL
		}
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("base URL %q is not an http(s) URL such as %s", cfg.BaseURL, DefaultBaseURL)
		}
		opts = []option.RequestOption{
			option.WithBaseURL(strings.TrimSuffix(cfg.BaseURL, "/") + "/"),
			option.WithAPIKey(cfg.APIKey),
		}
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	opts = append(opts, option.WithMaxRetries(cfg.MaxRetries))
	if cfg.Organization != "" {
		opts = append(opts, option.WithOrganization(cfg.Organization))
	}
	if cfg.Project != "" {
		opts = append(opts, option.WithProject(cfg.Project))
	}
	if cfg.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(cfg.Timeout))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		var err error
		if hc, err = httpClientFor(cfg.CACertFile); err != nil {
			return nil, err
		}
	}
	opts = append(opts, option.WithHTTPClient(hc))
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithHeader("User-Agent", cfg.UserAgent))
	}
	c := &Client{cfg: cfg, attempts: &attempts{}}
	opts = append(opts, option.WithMiddleware(c.attempts.record))
	c.sdk = openai.NewClient(opts...)
	return c, nil
}

// BaseURL is the URL the client talks to.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// Upload is the API's Upload object.
type Upload = openai.Upload

// NewUpload is what CreateUpload sends.
type NewUpload struct {
	Filename string
	Purpose  string
	Bytes    int64
	MimeType string
	// ExpiresAfter, when positive, sets the resulting file's expiry (seconds
	// after creation).
	ExpiresAfter int64
}

// CreateUpload starts an upload session.
func (c *Client) CreateUpload(ctx context.Context, n NewUpload) (*openai.Upload, error) {
	p := openai.UploadNewParams{Bytes: n.Bytes, Filename: n.Filename, MimeType: n.MimeType, Purpose: openai.FilePurpose(n.Purpose)}
	if n.ExpiresAfter > 0 {
		p.ExpiresAfter = openai.UploadNewParamsExpiresAfter{Seconds: n.ExpiresAfter}
	}
	return call(ctx, func(ctx context.Context) (*openai.Upload, error) { return c.sdk.Uploads.New(ctx, p) })
}

// MinCompleteTimeout is the least time a complete is given: the server
// reads and hashes the whole file before it answers (measured: about 20 s
// for 8 GiB on a 2-core machine).
const MinCompleteTimeout = 5 * time.Minute

// Complete finishes an upload with its parts in order and, when md5Hex is
// not empty, the MD5 of the whole file.
func (c *Client) Complete(ctx context.Context, uploadID string, partIDs []string, md5Hex string) (*openai.Upload, error) {
	p := openai.UploadCompleteParams{PartIDs: partIDs}
	if md5Hex != "" {
		p.Md5 = openai.String(md5Hex)
	}
	var opts []option.RequestOption
	if c.cfg.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(max(c.cfg.Timeout, MinCompleteTimeout)))
	}
	return call(ctx, func(ctx context.Context) (*openai.Upload, error) {
		return c.sdk.Uploads.Complete(ctx, uploadID, p, opts...)
	})
}

// Cancel cancels a pending upload.
func (c *Client) Cancel(ctx context.Context, uploadID string) (*openai.Upload, error) {
	return call(ctx, func(ctx context.Context) (*openai.Upload, error) { return c.sdk.Uploads.Cancel(ctx, uploadID) })
}

// Part is an accepted part. Bytes and MD5 are the bundled server's
// extensions (zero and "" from a server without them).
type Part struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	UploadID  string `json:"upload_id"`
	Bytes     int64  `json:"bytes,omitempty"`
	MD5       string `json:"md5,omitempty"`
}

// ListParts lists the parts an upload has accepted so far (an extension of
// the bundled server, for 'uploads parts list'; put never uses it).
func (c *Client) ListParts(ctx context.Context, uploadID string) ([]Part, error) {
	var list struct {
		Data []Part `json:"data"`
	}
	if err := c.sdk.Get(ctx, "uploads/"+url.PathEscape(uploadID)+"/parts", nil, &list); err != nil {
		return nil, err
	}
	return list.Data, nil
}

// ListFiles lists files, newest first, following pages up to limit files
// (0: all).
func (c *Client) ListFiles(ctx context.Context, purpose string, limit int) ([]openai.FileObject, error) {
	p := openai.FileListParams{}
	if purpose != "" {
		p.Purpose = openai.String(purpose)
	}
	if limit > 0 && limit < 10000 {
		p.Limit = openai.Int(int64(limit))
	}
	var out []openai.FileObject
	iter := c.sdk.Files.ListAutoPaging(ctx, p)
	for iter.Next() {
		out = append(out, iter.Current())
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, iter.Err()
}

// FindFiles returns the files of purpose named filename with size bytes
// that were created at or after since (Unix seconds, the server's clock),
// oldest first. It is how a client finds the file an upload made when the
// answer to complete was lost: the API has no way to read an upload.
func (c *Client) FindFiles(ctx context.Context, purpose, filename string, size, since int64) ([]openai.FileObject, error) {
	p := openai.FileListParams{Order: openai.FileListParamsOrderDesc}
	if purpose != "" {
		p.Purpose = openai.String(purpose)
	}
	var out []openai.FileObject
	iter := c.sdk.Files.ListAutoPaging(ctx, p)
	for iter.Next() {
		f := iter.Current()
		if f.CreatedAt < since {
			break // newest first: the rest are older still
		}
		if f.Filename == filename && f.Bytes == size {
			out = append(out, f)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	slices.Reverse(out)
	return out, nil
}

// GetFile reads a file object.
func (c *Client) GetFile(ctx context.Context, id string) (*openai.FileObject, error) {
	return call(ctx, func(ctx context.Context) (*openai.FileObject, error) { return c.sdk.Files.Get(ctx, id) })
}

// DeleteFile deletes a file.
func (c *Client) DeleteFile(ctx context.Context, id string) (*openai.FileDeleted, error) {
	return call(ctx, func(ctx context.Context) (*openai.FileDeleted, error) { return c.sdk.Files.Delete(ctx, id) })
}

// FileContent opens a file's bytes; the caller closes the body.
func (c *Client) FileContent(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	res, err := c.sdk.Files.Content(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	return res.Body, res.ContentLength, nil
}

// stopKey carries, in the context of a JSON call, the function that ends
// the call at once: a failure that no retry can mend (a server certificate
// that is not trusted, nothing listening at the base URL) should not wait out the SDK's retries and their
// backoff, seconds without a word, before it is said.
type stopKey struct{}

// call runs one JSON call of the SDK with a context that the middleware
// (attempts.record) can end, and returns the failure that ended it.
func call[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	cctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	v, err := f(context.WithValue(cctx, stopKey{}, stop))
	if err != nil && ctx.Err() == nil {
		if cause := context.Cause(cctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return v, cause
		}
	}
	return v, err
}

// RawJSON returns the JSON an SDK object was decoded from, or its encoding.
func RawJSON(v interface{ RawJSON() string }) json.RawMessage {
	if raw := v.RawJSON(); raw != "" {
		return json.RawMessage(raw)
	}
	b, _ := json.Marshal(v)
	return b
}
