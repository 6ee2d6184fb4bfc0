// Package store keeps the state of the local Uploads and Files server durably.
//
// Records (uploads, parts, files) live in a bbolt database, whose transactions
// are fsynced on commit; the bytes of parts and files live in plain files under
// the data directory, named by generated ids only (a client's filename is data,
// never a path). A part becomes visible only after its bytes are fsynced and its
// record is committed, so a crash at any instant leaves either no trace of a part
// or the whole part. Files that no record references (a part whose request died,
// bytes whose deletion a crash interrupted) are removed when the store opens.
//
// The store enforces the state machine of an upload (pending → completed,
// cancelled or expired) and the checks that need state: the upload cap, the part
// list given to Complete, the MD5. Checks of a request's shape (JSON fields,
// purposes, MIME types) belong to the HTTP layer.
package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Upload states.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// Upload is the record of an upload session.
type Upload struct {
	ID       string `json:"id"`
	Org      string `json:"org"`
	Filename string `json:"filename"`
	Purpose  string `json:"purpose"`
	MimeType string `json:"mime_type"`
	Bytes    int64  `json:"bytes"`
	Status   string `json:"status"`
	// CreatedAt and ExpiresAt are Unix seconds.
	CreatedAt int64 `json:"created_at"`
	ExpiresAt int64 `json:"expires_at"`
	// FileExpiresAfter is the lifetime, in seconds, of the file the upload
	// becomes; 0 means the file does not expire.
	FileExpiresAfter int64 `json:"file_expires_after,omitempty"`
	// FileID is set once the upload is completed.
	FileID string `json:"file_id,omitempty"`
	// Received counts the bytes of every part accepted so far.
	Received int64 `json:"received"`
	// PartSeq numbers the parts in the order they were accepted.
	PartSeq uint64 `json:"part_seq"`
}

// Part is the record of one accepted part.
type Part struct {
	ID        string `json:"id"`
	UploadID  string `json:"upload_id"`
	CreatedAt int64  `json:"created_at"`
	Bytes     int64  `json:"bytes"`
	// MD5 is the hex MD5 of the part's bytes.
	MD5 string `json:"md5"`
	// Path is relative to the data directory.
	Path string `json:"path"`
	Seq  uint64 `json:"seq"`
}

// File is the record of a file; its bytes are the concatenation of Extents.
type File struct {
	ID       string `json:"id"`
	Org      string `json:"org"`
	Filename string `json:"filename"`
	Purpose  string `json:"purpose"`
	MimeType string `json:"mime_type,omitempty"`
	Bytes    int64  `json:"bytes"`
	// CreatedAt is Unix seconds, as the API answers it; CreatedNano is the
	// same instant in Unix nanoseconds (0 in records written before it was
	// kept), for what needs a finer clock (the processing delay).
	CreatedAt   int64 `json:"created_at"`
	CreatedNano int64 `json:"created_ns,omitempty"`
	// ExpiresAt is Unix seconds, or 0 for a file that does not expire.
	ExpiresAt int64    `json:"expires_at,omitempty"`
	UploadID  string   `json:"upload_id,omitempty"`
	Seq       uint64   `json:"seq"`
	Extents   []Extent `json:"extents"`
}

// Created is when the file was created, to the nanosecond where the record
// has it, else to the second.
func (f File) Created() time.Time {
	if f.CreatedNano != 0 {
		return time.Unix(0, f.CreatedNano)
	}
	return time.Unix(f.CreatedAt, 0)
}

// Extent is one stretch of a file's bytes, kept in its own file on disk.
type Extent struct {
	// Path is relative to the data directory.
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Kind classifies a store error for the HTTP layer.
type Kind int

// Error kinds.
const (
	// KindInvalid is a request the state does not allow (HTTP 400).
	KindInvalid Kind = iota + 1
	// KindNotFound is an unknown id or one of another organization (HTTP 404).
	KindNotFound
)

// Error is a refusal with the details an API error needs.
type Error struct {
	Kind    Kind
	Param   string // the request field at fault, or ""
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(param, code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(what, id string) *Error {
	return &Error{Kind: KindNotFound, Param: "id", Code: "not_found", Message: fmt.Sprintf("No such %s object: %s", what, id)}
}

// IsKind reports whether err is a store *Error of kind k.
func IsKind(err error, k Kind) bool {
	var se *Error
	return errors.As(err, &se) && se.Kind == k
}

var (
	bucketUploads   = []byte("uploads")
	bucketParts     = []byte("parts")      // uploadID \x00 seq → Part
	bucketPartIndex = []byte("part_index") // partID → key in parts
	bucketFiles     = []byte("files")
	bucketMeta      = []byte("meta")
)

const schemaVersion = "1"

// Options tune a Store.
type Options struct {
	// Now returns the current time; tests set it to move the clock.
	Now func() time.Time
}

// Store is the durable state of one data directory. It is safe for
// concurrent use.
type Store struct {
	dir   string
	db    *bolt.DB
	now   func() time.Time
	locks [64]sync.Mutex // per-upload locks, striped by id

	// Group commit (see update).
	commitMu   sync.Mutex
	committing bool
	queued     []*txCall
}

// Open opens (creating if needed) the store in dir and removes bytes no
// record references. Only one process may hold a data directory at a time.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for _, sub := range []string{"", "parts", "files"} {
		if err := mkdirDurable(filepath.Join(dir, sub)); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}
	dbPath := filepath.Join(dir, "state.db")
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("data directory %s is in use by another uploads server (lock on %s); stop it or choose another --data-dir", dir, dbPath)
		}
		return nil, fmt.Errorf("open %s: %w", dbPath, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketUploads, bucketParts, bucketPartIndex, bucketFiles, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get([]byte("schema")); v != nil && string(v) != schemaVersion {
			return fmt.Errorf("data directory %s has schema version %s, this server knows %s; use a matching server or a new --data-dir", dir, v, schemaVersion)
		}
		return meta.Put([]byte("schema"), []byte(schemaVersion))
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{dir: dir, db: db, now: opts.Now}
	if err := s.sweepOrphans(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Now is the store's clock: the time its records are stamped with.
func (s *Store) Now() time.Time { return s.now() }

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) lock(id string) *sync.Mutex {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return &s.locks[h%uint32(len(s.locks))]
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b[:])
}

func (s *Store) abs(rel string) string { return filepath.Join(s.dir, rel) }
