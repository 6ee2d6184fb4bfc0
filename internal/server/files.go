package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uploads-dev/uploads/internal/store"
)

// GET /v1/files
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq := store.ListQuery{Org: org(r), Purpose: q.Get("purpose"), After: q.Get("after"), Limit: 10000, Desc: true}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.fail(w, r, badRequest("limit", "invalid_value", "Invalid value for 'limit': %q; it must be a whole number from 1 to 10000.", v))
			return
		}
		lq.Limit = n
	}
	switch v := q.Get("order"); v {
	case "", "desc":
	case "asc":
		lq.Desc = false
	default:
		s.fail(w, r, badRequest("order", "invalid_value", "Invalid value for 'order': %q; it must be 'asc' or 'desc'.", v))
		return
	}
	files, more, err := s.store.ListFiles(lq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := listObject[*fileObject]{Object: "list", Data: make([]*fileObject, 0, len(files)), HasMore: more}
	for _, f := range files {
		list.Data = append(list.Data, s.toFile(f))
	}
	if len(list.Data) > 0 {
		list.FirstID, list.LastID = list.Data[0].ID, list.Data[len(list.Data)-1].ID
	}
	writeJSON(w, http.StatusOK, list)
}

// GET /v1/files/{id}
func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	f, err := s.store.GetFile(org(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toFile(f))
}

// DELETE /v1/files/{id}
func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.store.DeleteFile(org(r), id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deletedObject{ID: id, Object: "file", Deleted: true})
}

// GET /v1/files/{id}/content: the raw bytes, with Range support.
func (s *Server) fileContent(w http.ResponseWriter, r *http.Request) {
	f, err := s.store.GetFile(org(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.store.OpenContent(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer c.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	http.ServeContent(&contentErrors{ResponseWriter: w, size: f.Bytes, r: r}, r, "", time.Unix(f.CreatedAt, 0), c)
}

// contentErrors turns the failures http.ServeContent answers by itself, a
// plain-text 416 for a Range it cannot serve and a bodiless 412 for a failed
// If-Match or If-Unmodified-Since, into the API's JSON errors.
type contentErrors struct {
	http.ResponseWriter
	size   int64
	r      *http.Request
	failed bool
}

func (w *contentErrors) WriteHeader(code int) {
	if code < 400 || w.failed {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.failed = true
	w.Header().Del("Content-Disposition")
	e := &apiError{Status: code, Type: "invalid_request_error"}
	switch code {
	case http.StatusRequestedRangeNotSatisfiable:
		e.Param, e.Code = strPtr("Range"), strPtr("range_not_satisfiable")
		e.Message = fmt.Sprintf("The Range header %q is malformed or does not fit the file's %d bytes; ask for bytes=FIRST-LAST within 0-%d, or leave Range out.",
			w.r.Header.Get("Range"), w.size, w.size-1)
		if w.size == 0 {
			e.Message = fmt.Sprintf("The Range header %q asks for bytes of an empty file; leave Range out.", w.r.Header.Get("Range"))
		}
	case http.StatusPreconditionFailed:
		e.Code = strPtr("precondition_failed")
		e.Message = "A precondition of the request (If-Match or If-Unmodified-Since) does not hold for this file."
	default:
		e.Message = http.StatusText(code)
	}
	writeError(w.ResponseWriter, e)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *contentErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Write drops the plain-text body that follows a failure written as JSON.
func (w *contentErrors) Write(p []byte) (int, error) {
	if w.failed {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// POST /v1/files: multipart with file, purpose and expires_after[anchor|seconds].
func (s *Server) createFile(w http.ResponseWriter, r *http.Request) {
	tooLarge := badRequest("file", "file_too_large", "The file is larger than the %s POST /files accepts; use the Uploads API (uploads put) for large files.", fmtBytes(s.MaxFileSize))
	if r.ContentLength > s.MaxFileSize+multipartSlack {
		closeAfterAnswer(w, r)
		s.fail(w, r, tooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxFileSize+multipartSlack)
	// Small fields stay in memory; the file spills to a temporary file.
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, tooLarge)
			return
		}
		s.fail(w, r, badRequest("file", "invalid_multipart",
			"Expected a multipart/form-data body with the fields 'file' and 'purpose' (%v).", err))
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	form := r.MultipartForm
	field := func(name string) (string, bool) {
		v, ok := form.Value[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	for name := range form.Value {
		switch name {
		case "purpose", "expires_after[anchor]", "expires_after[seconds]":
		default:
			s.fail(w, r, badRequest(name, "unknown_parameter", "Unrecognized request argument supplied: %s", name))
			return
		}
	}
	fhs := form.File["file"]
	if len(fhs) == 0 {
		s.fail(w, r, missing("file"))
		return
	}
	purpose, ok := field("purpose")
	if !ok {
		s.fail(w, r, missing("purpose"))
		return
	}
	if _, ok := s.Purposes[purpose]; !ok {
		s.fail(w, r, badRequest("purpose", "invalid_value", "'%s' is not one of %s - 'purpose'", purpose, quotedList(s.Purposes.Names())))
		return
	}
	var expiry int64
	anchor, hasAnchor := field("expires_after[anchor]")
	secs, hasSecs := field("expires_after[seconds]")
	if hasAnchor || hasSecs {
		if !hasAnchor {
			s.fail(w, r, missing("expires_after[anchor]"))
			return
		}
		if !hasSecs {
			s.fail(w, r, missing("expires_after[seconds]"))
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(secs), 10, 64)
		if err != nil {
			s.fail(w, r, badRequest("expires_after.seconds", "invalid_type", "Invalid type for 'expires_after.seconds': expected an integer, but got %q instead.", secs))
			return
		}
		if expiry, err = checkExpiry(anchor, n); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	fh := fhs[0]
	if err := s.checkFileContentType(fh.Header.Get("Content-Type")); err != nil {
		s.fail(w, r, err)
		return
	}
	name := fh.Filename
	if strings.TrimSpace(name) == "" {
		name = "file"
	}
	src, err := fh.Open()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer src.Close()
	f, err := s.store.CreateFile(store.NewFile{Org: org(r), Filename: name, Purpose: purpose,
		MimeType: fh.Header.Get("Content-Type"), ExpiresAfter: expiry}, io.Reader(src), s.MaxFileSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toFile(f))
}
