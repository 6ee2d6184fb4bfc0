package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"golang.org/x/time/rate"
)

// PartBody is the bytes of one part. Open is called once per attempt and
// must return the part from its first byte: a section of a file can be
// opened again for a retry, a pipe cannot (Replayable false).
type PartBody struct {
	// Size is the part's length, or -1 when unknown (sent chunked).
	Size int64
	Open func() (io.Reader, error)
	// OnRead, if set, is told of the bytes of the request as the HTTP
	// client hands them to the connection (for progress).
	OnRead     func(n int)
	Replayable bool
	// Limiter, if set, paces the request's bytes: each chunk the HTTP
	// client reads (at most the limiter's burst) waits for its tokens
	// first, on the request's context. Time spent waiting is not a stall.
	// One limiter shared by many requests caps their sum.
	Limiter *rate.Limiter
	// Wire, if set, follows the attempt on its connection: how many of
	// the part's bytes the server has acknowledged (see Wire). Give each
	// attempt a new one.
	Wire *Wire
}

// Section is the part of ra from off, n bytes long, re-read from ra on each
// attempt.
func Section(ra io.ReaderAt, off, n int64) PartBody {
	return PartBody{Size: n, Replayable: true, Open: func() (io.Reader, error) {
		return io.NewSectionReader(ra, off, n), nil
	}}
}

// Stream is a part read once from r (n bytes, or -1 for unknown).
func Stream(r io.Reader, n int64) PartBody {
	used := false
	return PartBody{Size: n, Open: func() (io.Reader, error) {
		if used {
			return nil, fmt.Errorf("the part's input cannot be read a second time")
		}
		used = true
		return r, nil
	}}
}

// multipartFrame is the multipart/form-data framing around a part's bytes:
// the header of the one field "data", and the closing boundary.
type multipartFrame struct {
	head, tail  []byte
	contentType string
}

func newFrame() multipartFrame {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	// CreateFormFile cannot fail writing to a bytes.Buffer.
	_, _ = mw.CreateFormFile("data", "part")
	return multipartFrame{
		head:        head.Bytes(),
		tail:        []byte("\r\n--" + mw.Boundary() + "--\r\n"),
		contentType: mw.FormDataContentType(),
	}
}

// body assembles framing and bytes; its length is exact when the part's is.
func (f multipartFrame) body(r io.Reader, size int64) (io.Reader, int64) {
	n := int64(-1)
	if size >= 0 {
		n = int64(len(f.head)) + size + int64(len(f.tail))
	}
	return io.MultiReader(bytes.NewReader(f.head), r, bytes.NewReader(f.tail)), n
}

// AddPart sends one part, streamed, in a single attempt: the SDK's own
// retries are off so that bytes are never sent twice blindly; the caller
// retries (see package retry) with a fresh Open.
//
// A part has no time limit as a whole — on a slow link it may take an hour —
// but it may not stall: when its bytes stop moving for the client's stall
// timeout, or no answer comes once they are all sent, the request is cut
// with a *StalledError.
func (c *Client) AddPart(ctx context.Context, uploadID string, body PartBody) (_ *Part, err error) {
	src, err := body.Open()
	if err != nil {
		return nil, err
	}
	frame := newFrame()
	framed, length := frame.body(src, body.Size)
	reader := newWatchedBody(framed, body.OnRead)
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	reader.lim, reader.ctx = body.Limiter, actx
	if w := body.Wire; w != nil {
		w.begin(reader, int64(len(frame.head)), body.Size)
		defer func() { w.end(err == nil) }()
	}
	answered := make(chan struct{})
	setLength := func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		req.ContentLength = length
		if length < 0 {
			req.ContentLength = -1
		}
		req.GetBody = nil // one attempt: nothing may re-send these bytes
		if body.Wire != nil {
			req = body.Wire.request(req)
		}
		if c.cfg.StallTimeout > 0 {
			go watch(actx, cancel, reader, length, c.cfg.StallTimeout, answered)
		}
		res, err := next(req)
		close(answered)
		return res, err
	}
	var raw json.RawMessage
	_, err = c.sdk.Uploads.Parts.New(actx, uploadID, openai.UploadPartNewParams{Data: strings.NewReader("")},
		option.WithRequestBody(frame.contentType, reader),
		option.WithMiddleware(setLength),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(0), // progress, not duration, bounds a part
		option.WithResponseBodyInto(&raw))
	if err != nil {
		var se *StalledError
		if cause := context.Cause(actx); ctx.Err() == nil && errors.As(cause, &se) {
			return nil, se
		}
		return nil, err
	}
	var p Part
	if err := json.Unmarshal(raw, &p); err != nil || p.ID == "" {
		return nil, fmt.Errorf("the server's answer to a part is not an upload.part object: %.200s", raw)
	}
	return &p, nil
}
