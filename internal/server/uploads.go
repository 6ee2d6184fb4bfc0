package server

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/uploads-dev/uploads/internal/store"
)

// POST /v1/uploads
func (s *Server) createUpload(w http.ResponseWriter, r *http.Request) {
	obj, err := readJSONObject(w, r, "filename", "purpose", "bytes", "mime_type", "expires_after")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.validateNewUpload(obj)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n.Org = org(r)
	u, err := s.store.CreateUpload(n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toUpload(u))
}

func (s *Server) validateNewUpload(obj jsonObject) (store.NewUpload, error) {
	var n store.NewUpload
	var err error
	if n.Filename, _, err = obj.str("filename", true); err != nil {
		return n, err
	}
	if n.Purpose, _, err = obj.str("purpose", true); err != nil {
		return n, err
	}
	if n.Bytes, _, err = obj.integer("bytes", true); err != nil {
		return n, err
	}
	if n.MimeType, _, err = obj.str("mime_type", true); err != nil {
		return n, err
	}
	if n.FileExpiresAfter, err = expiresAfter(obj); err != nil {
		return n, err
	}
	if strings.TrimSpace(n.Filename) == "" {
		return n, badRequest("filename", "invalid_value", "Invalid value for 'filename': it is empty; give the name of the file you are uploading.")
	}
	if len(n.Filename) > 1024 || strings.ContainsRune(n.Filename, 0) {
		return n, badRequest("filename", "invalid_value", "Invalid value for 'filename': it must be at most 1024 bytes with no NUL character.")
	}
	if _, ok := s.Purposes[n.Purpose]; !ok {
		return n, badRequest("purpose", "invalid_value", "'%s' is not one of %s - 'purpose'", n.Purpose, quotedList(s.Purposes.Names()))
	}
	if n.Bytes < 1 {
		return n, badRequest("bytes", "invalid_value", "Invalid value for 'bytes': %d; it must be the size of the file, at least 1.", n.Bytes)
	}
	if n.Bytes > s.MaxUploadSize {
		return n, badRequest("bytes", "invalid_value", "Invalid value for 'bytes': %d is larger than the maximum upload size of %s.", n.Bytes, fmtBytes(s.MaxUploadSize))
	}
	if !s.Purposes.allows(n.Purpose, n.MimeType) {
		return n, badRequest("mime_type", "unsupported_mime_type", "Invalid value for 'mime_type': %q is not supported for purpose '%s'. Supported types: %s.",
			n.MimeType, n.Purpose, strings.Join(s.Purposes[n.Purpose], ", "))
	}
	if mt, _, err := mime.ParseMediaType(n.MimeType); err == nil {
		n.MimeType = mt
	}
	n.TTL = s.UploadTTL
	return n, nil
}

// GET /v1/uploads/{id} (extension)
func (s *Server) getUpload(w http.ResponseWriter, r *http.Request) {
	u, err := s.store.GetUpload(org(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toUpload(u))
}

// /v1/uploads/{id}/parts: POST adds a part; GET (extension, not in strict
// mode) lists them.
func (s *Server) handleParts(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost:
		s.addPart(w, r)
	case r.Method == http.MethodGet && !s.Strict:
		s.listParts(w, r)
	case s.Strict: // a GET does not come here: see New
		methods{http.MethodPost: nil}.ServeHTTP(w, r)
	default:
		methods{http.MethodPost: nil, http.MethodGet: nil}.ServeHTTP(w, r)
	}
}

// multipartSlack is how much framing a part request may carry beyond the
// part's bytes: boundaries and headers, generously.
const multipartSlack = 64 << 10

func (s *Server) addPart(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// Refuse before reading the body whenever the answer is already known.
	if err := s.store.CheckPartAllowed(org(r), id); err != nil {
		closeAfterAnswer(w, r)
		s.fail(w, r, err)
		return
	}
	tooLarge := badRequest("data", "part_too_large",
		"The part is larger than the maximum part size of %s. Split the file into parts of at most that size.", fmtBytes(s.MaxPartSize))
	if r.ContentLength > s.MaxPartSize+multipartSlack {
		closeAfterAnswer(w, r)
		s.fail(w, r, tooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxPartSize+multipartSlack)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		s.fail(w, r, badRequest("data", "invalid_multipart",
			"Expected a multipart/form-data body with one file field named 'data' (Content-Type: %q).", r.Header.Get("Content-Type")))
		return
	}
	data, header, err := partData(r.Body, params["boundary"])
	var big *fieldTooLargeError
	switch {
	case errors.As(err, &big):
		s.fail(w, r, badRequest(big.name, "invalid_multipart", "The multipart field %q is too large; the only field is 'data'.", big.name))
		return
	case err != nil:
		s.fail(w, r, bodyError(err, tooLarge, "The multipart body is malformed or ended early"))
		return
	case header == nil:
		s.fail(w, r, missing("data"))
		return
	}
	if err := s.checkFileContentType(header.Get("Content-Type")); err != nil {
		s.fail(w, r, err)
		return
	}
	part, err := s.store.AddPart(org(r), id, data, s.MaxPartSize, s.MaxUploadSize)
	if err != nil {
		var be *store.BodyError
		if errors.As(err, &be) {
			err = bodyError(err, tooLarge, "The part's body ended early or could not be read; nothing was stored. Send the part again")
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toPart(part))
}

// bodyError explains a failure to read a request body: over the limit, or
// malformed or cut short.
func bodyError(err error, tooLarge *apiError, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge
	}
	return badRequest("data", "invalid_body", "%s: %v.", what, err)
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request) {
	parts, err := s.store.ListParts(org(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := listObject[partObjectExt]{Object: "list", Data: make([]partObjectExt, 0, len(parts))}
	for _, p := range parts {
		list.Data = append(list.Data, toPartExt(p))
	}
	if len(list.Data) > 0 {
		list.FirstID, list.LastID = list.Data[0].ID, list.Data[len(list.Data)-1].ID
	}
	writeJSON(w, http.StatusOK, list)
}

// POST /v1/uploads/{id}/complete
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) {
	obj, err := readJSONObject(w, r, "part_ids", "md5")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	raw, ok := obj["part_ids"]
	if !ok {
		s.fail(w, r, missing("part_ids"))
		return
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil || ids == nil {
		s.fail(w, r, wrongType("part_ids", "an array of strings", raw))
		return
	}
	sum, _, err := obj.str("md5", false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b, err := hex.DecodeString(sum); sum != "" && (err != nil || len(b) != 16) {
		s.fail(w, r, badRequest("md5", "invalid_value", "Invalid value for 'md5': %q is not an MD5 checksum (32 hexadecimal digits).", sum))
		return
	}
	u, _, err := s.store.Complete(org(r), r.PathValue("id"), ids, sum)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toUpload(u))
}

// POST /v1/uploads/{id}/cancel
func (s *Server) cancelUpload(w http.ResponseWriter, r *http.Request) {
	u, err := s.store.Cancel(org(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.toUpload(u))
}
