package store

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // records are plain structs: cannot fail
	}
	return b
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("corrupt record: %w", err)
	}
	return nil
}

// NewUpload is what CreateUpload needs; the HTTP layer has validated it.
type NewUpload struct {
	Org              string
	Filename         string
	Purpose          string
	MimeType         string
	Bytes            int64
	TTL              time.Duration
	FileExpiresAfter int64
}

// CreateUpload records a new pending upload.
func (s *Store) CreateUpload(n NewUpload) (Upload, error) {
	now := s.now()
	u := Upload{
		ID:               newID("upload_"),
		Org:              n.Org,
		Filename:         n.Filename,
		Purpose:          n.Purpose,
		MimeType:         n.MimeType,
		Bytes:            n.Bytes,
		Status:           StatusPending,
		CreatedAt:        now.Unix(),
		ExpiresAt:        now.Add(n.TTL).Unix(),
		FileExpiresAfter: n.FileExpiresAfter,
	}
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUploads).Put([]byte(u.ID), encode(u))
	})
	return u, err
}

// expired reports whether a pending upload has outlived its session.
func (s *Store) expired(u *Upload) bool {
	return u.Status == StatusPending && s.now().Unix() >= u.ExpiresAt
}

// getUpload reads an upload of org inside tx, showing a pending upload past
// its expiry as expired.
func (s *Store) getUpload(tx *bolt.Tx, org, id string) (Upload, error) {
	var u Upload
	v := tx.Bucket(bucketUploads).Get([]byte(id))
	if v == nil {
		return u, notFound("Upload", id)
	}
	if err := decode(v, &u); err != nil {
		return u, err
	}
	if u.Org != org {
		return Upload{}, notFound("Upload", id)
	}
	if s.expired(&u) {
		u.Status = StatusExpired
	}
	return u, nil
}

// GetUpload returns the upload as it stands.
func (s *Store) GetUpload(org, id string) (u Upload, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		u, err = s.getUpload(tx, org, id)
		return err
	})
	return u, err
}

// UploadFile returns the file an upload became, if it was completed and the
// file still exists.
func (s *Store) UploadFile(u Upload) (File, bool) {
	if u.FileID == "" {
		return File{}, false
	}
	f, err := s.GetFile(u.Org, u.FileID)
	return f, err == nil
}

func notPending(u Upload, action string) *Error {
	if u.Status == StatusExpired {
		return invalid("", "upload_expired", "Upload %s expired at %s; %s is no longer possible. Create a new upload.",
			u.ID, time.Unix(u.ExpiresAt, 0).UTC().Format(time.RFC3339), action)
	}
	return invalid("", "upload_not_pending", "Upload %s is %s, not pending; %s is no longer possible.", u.ID, u.Status, action)
}

// partPath is where a new part's bytes go, relative to the data directory:
// directly in parts/, named by the upload and the part. Records keep the path
// they were written with, so parts stored by earlier versions in a
// directory per upload (parts/UPLOAD_ID/PART_ID) are still found. A
// directory per upload cost each upload a mkdir (on ext4 an inode allocation
// that was about 8% of the server's CPU for a folder of 4 KiB files), an
// fsync of parts/ and an rmdir; the parts' own fsyncs are unchanged.
func partPath(uploadID, partID string) string {
	return filepath.Join("parts", uploadID+"."+partID)
}

func partKey(uploadID string, seq uint64) []byte {
	k := make([]byte, 0, len(uploadID)+9)
	k = append(k, uploadID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// CheckPartAllowed answers whether a part may be added now, so that a request
// can be refused before its body is read.
func (s *Store) CheckPartAllowed(org, uploadID string) error {
	u, err := s.GetUpload(org, uploadID)
	if err != nil {
		return err
	}
	if u.Status != StatusPending {
		return notPending(u, "adding a part")
	}
	return nil
}

// AddPart streams body to disk as a new part of the upload, at most maxPart
// bytes, and records it once its bytes are durable. maxUpload caps the bytes
// accepted for the upload across all its parts.
func (s *Store) AddPart(org, uploadID string, body io.Reader, maxPart, maxUpload int64) (Part, error) {
	if err := s.CheckPartAllowed(org, uploadID); err != nil {
		return Part{}, err
	}
	p := Part{ID: newID("part_"), UploadID: uploadID}
	p.Path = partPath(uploadID, p.ID)
	n, sum, err := writeDurable(s.abs(p.Path), body, maxPart)
	if errors.Is(err, errTooLarge) {
		return Part{}, invalid("data", "part_too_large",
			"The part is larger than the maximum part size of %d bytes. Split the file into smaller parts.", maxPart)
	}
	var be *BodyError
	if errors.As(err, &be) {
		return Part{}, be // the client's side: not ours to prefix
	}
	if err != nil {
		// A complete, cancel or expiry that won the race makes the answer
		// that the upload is no longer pending (400), not a server error.
		if cerr := s.CheckPartAllowed(org, uploadID); cerr != nil {
			s.removeBytes([]string{p.Path})
			return Part{}, cerr
		}
		return Part{}, fmt.Errorf("store part: %w", err)
	}
	p.Bytes, p.MD5 = n, sum
	err = s.update(func(tx *bolt.Tx) error {
		u, err := s.getUpload(tx, org, uploadID)
		if err != nil {
			return err
		}
		if u.Status != StatusPending {
			return notPending(u, "adding a part")
		}
		if u.Received+n > maxUpload {
			return invalid("data", "upload_too_large",
				"This part would take the bytes received for upload %s to %d, past the maximum upload size of %d bytes. Complete the upload with the parts you have, or start a new one.",
				uploadID, u.Received+n, maxUpload)
		}
		u.PartSeq++
		u.Received += n
		p.Seq = u.PartSeq
		p.CreatedAt = s.now().Unix()
		key := partKey(uploadID, p.Seq)
		if err := tx.Bucket(bucketParts).Put(key, encode(p)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPartIndex).Put([]byte(p.ID), key); err != nil {
			return err
		}
		return tx.Bucket(bucketUploads).Put([]byte(u.ID), encode(u))
	})
	if err != nil {
		s.removeBytes([]string{p.Path})
		return Part{}, err
	}
	return p, nil
}

func (s *Store) listParts(tx *bolt.Tx, uploadID string) ([]Part, error) {
	var parts []Part
	prefix := append([]byte(uploadID), 0)
	c := tx.Bucket(bucketParts).Cursor()
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
		var p Part
		if err := decode(v, &p); err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// ListParts returns the parts accepted so far, in the order they were accepted.
// A completed, cancelled or expired upload has none left.
func (s *Store) ListParts(org, uploadID string) (parts []Part, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if _, err := s.getUpload(tx, org, uploadID); err != nil {
			return err
		}
		parts, err = s.listParts(tx, uploadID)
		return err
	})
	return parts, err
}

// deleteParts removes the records of every part of an upload inside tx and
// returns the paths of their bytes, except those in keep.
func deleteParts(tx *bolt.Tx, parts []Part, keep map[string]bool) ([]string, error) {
	var paths []string
	for _, p := range parts {
		if err := tx.Bucket(bucketParts).Delete(partKey(p.UploadID, p.Seq)); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketPartIndex).Delete([]byte(p.ID)); err != nil {
			return nil, err
		}
		if !keep[p.ID] {
			paths = append(paths, p.Path)
		}
	}
	return paths, nil
}

// Complete turns a pending upload into a file made of the listed parts, in
// order. md5Hex, when not empty, must match the MD5 of those bytes, which
// Complete reads back in the listed order to check it. Parts not listed are
// discarded.
func (s *Store) Complete(org, uploadID string, partIDs []string, md5Hex string) (Upload, File, error) {
	mu := s.lock(uploadID)
	mu.Lock()
	defer mu.Unlock()

	var listed []Part
	err := s.db.View(func(tx *bolt.Tx) error {
		u, err := s.getUpload(tx, org, uploadID)
		if err != nil {
			return err
		}
		if u.Status != StatusPending {
			return notPending(u, "completing it")
		}
		listed, err = s.resolveParts(tx, u, partIDs)
		return err
	})
	if err != nil {
		return Upload{}, File{}, err
	}
	if md5Hex != "" {
		got, err := s.md5Of(listed)
		if err != nil {
			return Upload{}, File{}, err
		}
		if !strings.EqualFold(got, md5Hex) {
			return Upload{}, File{}, invalid("md5", "md5_mismatch",
				"The md5 you gave (%s) does not match the MD5 of the listed parts in order (%s). Check the part order and that the file did not change; the upload is still pending.",
				md5Hex, got)
		}
	}

	var (
		u       Upload
		f       File
		discard []string
	)
	err = s.update(func(tx *bolt.Tx) error {
		f, discard = File{}, nil // the function may run more than once (see update)
		var err error
		u, err = s.getUpload(tx, org, uploadID)
		if err != nil {
			return err
		}
		if u.Status != StatusPending { // the lock keeps cancel out; only expiry remains
			return notPending(u, "completing it")
		}
		all, err := s.listParts(tx, uploadID)
		if err != nil {
			return err
		}
		keep := map[string]bool{}
		for _, p := range listed {
			keep[p.ID] = true
			f.Extents = append(f.Extents, Extent{Path: p.Path, Bytes: p.Bytes})
		}
		if discard, err = deleteParts(tx, all, keep); err != nil {
			return err
		}
		files := tx.Bucket(bucketFiles)
		seq, err := files.NextSequence()
		if err != nil {
			return err
		}
		t := s.now()
		now := t.Unix()
		f.ID, f.Org, f.Filename, f.Purpose, f.MimeType = newID("file-"), u.Org, u.Filename, u.Purpose, u.MimeType
		f.Bytes, f.CreatedAt, f.CreatedNano, f.UploadID, f.Seq = u.Bytes, now, t.UnixNano(), u.ID, seq
		if u.FileExpiresAfter > 0 {
			f.ExpiresAt = now + u.FileExpiresAfter
		}
		if err := files.Put([]byte(f.ID), encode(f)); err != nil {
			return err
		}
		u.Status, u.FileID = StatusCompleted, f.ID
		return tx.Bucket(bucketUploads).Put([]byte(u.ID), encode(u))
	})
	if err != nil {
		return Upload{}, File{}, err
	}
	s.removeBytes(discard)
	return u, f, nil
}

// md5Of is the hex MD5 of the parts' bytes in order: one pass over them,
// each read with O_DIRECT one chunk ahead of the hash (see hashFile).
// crypto/md5 is the faster for one stream; md5-simd pays off only with many.
//
// A file of one part (every small file) has its part's MD5, computed from the
// very bytes that were fsynced before the part was recorded: it is not read
// back.
func (s *Store) md5Of(parts []Part) (string, error) {
	if len(parts) == 1 && parts[0].MD5 != "" {
		return parts[0].MD5, nil
	}
	h := md5.New()
	for _, p := range parts {
		if err := hashFile(h, s.abs(p.Path)); err != nil {
			return "", fmt.Errorf("read part %s for the MD5 check: %w", p.ID, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// resolveParts checks part_ids against the upload's parts and returns them in
// the listed order.
func (s *Store) resolveParts(tx *bolt.Tx, u Upload, partIDs []string) ([]Part, error) {
	if len(partIDs) == 0 {
		return nil, invalid("part_ids", "empty_part_ids", "part_ids is empty; list the ids of the parts that make the file, in order.")
	}
	seen := make(map[string]bool, len(partIDs))
	listed := make([]Part, 0, len(partIDs))
	var total int64
	for i, id := range partIDs {
		if seen[id] {
			return nil, invalid("part_ids", "duplicate_part_id", "part_ids[%d] (%q) is listed more than once; each part may be used once.", i, id)
		}
		seen[id] = true
		key := tx.Bucket(bucketPartIndex).Get([]byte(id))
		var p Part
		if key != nil {
			if err := decode(tx.Bucket(bucketParts).Get(key), &p); err != nil {
				return nil, err
			}
		}
		if key == nil || p.UploadID != u.ID {
			return nil, invalid("part_ids", "unknown_part_id", "part_ids[%d] (%q) is not a part of upload %s; list only ids returned by adding parts to this upload.", i, id, u.ID)
		}
		total += p.Bytes
		listed = append(listed, p)
	}
	if total != u.Bytes {
		return nil, invalid("part_ids", "bytes_mismatch",
			"The listed parts hold %d bytes, but upload %s was created with bytes=%d. List every part of the file, or create the upload with the right size.",
			total, u.ID, u.Bytes)
	}
	return listed, nil
}

// Cancel ends a pending upload and discards its parts.
func (s *Store) Cancel(org, uploadID string) (Upload, error) {
	mu := s.lock(uploadID)
	mu.Lock()
	defer mu.Unlock()
	var (
		u       Upload
		discard []string
	)
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		u, err = s.getUpload(tx, org, uploadID)
		if err != nil {
			return err
		}
		if u.Status != StatusPending {
			return notPending(u, "cancelling it")
		}
		parts, err := s.listParts(tx, uploadID)
		if err != nil {
			return err
		}
		if discard, err = deleteParts(tx, parts, nil); err != nil {
			return err
		}
		u.Status = StatusCancelled
		return tx.Bucket(bucketUploads).Put([]byte(u.ID), encode(u))
	})
	if err != nil {
		return Upload{}, err
	}
	s.removeBytes(discard)
	return u, nil
}
