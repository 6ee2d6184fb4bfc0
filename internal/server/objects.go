package server

import (
	"encoding/json"
	"net/http"

	"github.com/uploads-dev/uploads/internal/store"
)

// The JSON objects of the API, as the OpenAPI description names them.

type fileObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Bytes     int64  `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt *int64 `json:"expires_at,omitempty"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"`
	// StatusDetails says why processing failed (status "error" only).
	StatusDetails string `json:"status_details,omitempty"`
}

type uploadObject struct {
	ID        string      `json:"id"`
	Object    string      `json:"object"`
	Bytes     int64       `json:"bytes"`
	CreatedAt int64       `json:"created_at"`
	ExpiresAt int64       `json:"expires_at"`
	Filename  string      `json:"filename"`
	Purpose   string      `json:"purpose"`
	Status    string      `json:"status"`
	File      *fileObject `json:"file"`
}

// partObject is the official UploadPart, as strict mode answers it.
type partObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	UploadID  string `json:"upload_id"`
}

// partObjectExt carries two extensions beside the official fields: the
// part's size and the hex MD5 of its bytes as the server stored them, so
// that a client can verify each part and resume with confidence.
type partObjectExt struct {
	partObject
	Bytes int64  `json:"bytes"`
	MD5   string `json:"md5"`
}

type listObject[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	FirstID string `json:"first_id"`
	LastID  string `json:"last_id"`
	HasMore bool   `json:"has_more"`
}

type deletedObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// toFile is the file as the API answers it, with its processing status as
// of now.
func (s *Server) toFile(f store.File) *fileObject {
	o := &fileObject{ID: f.ID, Object: "file", Bytes: f.Bytes, CreatedAt: f.CreatedAt,
		Filename: f.Filename, Purpose: f.Purpose}
	o.Status, o.StatusDetails = s.fileStatus(f)
	if f.ExpiresAt != 0 {
		o.ExpiresAt = &f.ExpiresAt
	}
	return o
}

func toPartExt(p store.Part) partObjectExt {
	return partObjectExt{
		partObject: partObject{ID: p.ID, Object: "upload.part", CreatedAt: p.CreatedAt, UploadID: p.UploadID},
		Bytes:      p.Bytes, MD5: p.MD5,
	}
}

// toPart is the part as the mode answers it: official fields only in
// strict mode, with the extensions otherwise.
func (s *Server) toPart(p store.Part) any {
	if s.Strict {
		return toPartExt(p).partObject
	}
	return toPartExt(p)
}

func (s *Server) toUpload(u store.Upload) uploadObject {
	o := uploadObject{ID: u.ID, Object: "upload", Bytes: u.Bytes, CreatedAt: u.CreatedAt, ExpiresAt: u.ExpiresAt,
		Filename: u.Filename, Purpose: u.Purpose, Status: u.Status}
	if f, ok := s.store.UploadFile(u); ok {
		o.File = s.toFile(f)
	}
	return o
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
