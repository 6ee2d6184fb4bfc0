package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// NewFile is what CreateFile needs; the HTTP layer has validated it.
type NewFile struct {
	Org          string
	Filename     string
	Purpose      string
	MimeType     string
	ExpiresAfter int64 // seconds; 0 for none
}

// CreateFile streams body, at most max bytes, into a new file.
func (s *Store) CreateFile(n NewFile, body io.Reader, max int64) (File, error) {
	f := File{ID: newID("file-"), Org: n.Org, Filename: n.Filename, Purpose: n.Purpose, MimeType: n.MimeType}
	path := filepath.Join("files", f.ID)
	size, _, err := writeDurable(s.abs(path), body, max)
	if errors.Is(err, errTooLarge) {
		return File{}, invalid("file", "file_too_large", "The file is larger than the %d bytes POST /files accepts; use the Uploads API for large files.", max)
	}
	if err != nil {
		return File{}, fmt.Errorf("store file: %w", err)
	}
	f.Bytes = size
	f.Extents = []Extent{{Path: path, Bytes: size}}
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		f.Seq = seq
		now := s.now()
		f.CreatedAt, f.CreatedNano = now.Unix(), now.UnixNano()
		if n.ExpiresAfter > 0 {
			f.ExpiresAt = f.CreatedAt + n.ExpiresAfter
		}
		return b.Put([]byte(f.ID), encode(f))
	})
	if err != nil {
		s.removeBytes([]string{path})
		return File{}, err
	}
	return f, nil
}

func (s *Store) fileExpired(f *File) bool {
	return f.ExpiresAt != 0 && s.now().Unix() >= f.ExpiresAt
}

func (s *Store) getFile(tx *bolt.Tx, org, id string) (File, error) {
	var f File
	v := tx.Bucket(bucketFiles).Get([]byte(id))
	if v == nil {
		return f, notFound("File", id)
	}
	if err := decode(v, &f); err != nil {
		return f, err
	}
	if f.Org != org || s.fileExpired(&f) {
		return File{}, notFound("File", id)
	}
	return f, nil
}

// GetFile returns a file of org that has not expired.
func (s *Store) GetFile(org, id string) (f File, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		f, err = s.getFile(tx, org, id)
		return err
	})
	return f, err
}

// ListQuery selects files for ListFiles.
type ListQuery struct {
	Org     string
	Purpose string // "" for all
	Desc    bool
	After   string // a file id; the page starts after it
	Limit   int
}

// ListFiles returns a page of org's files in creation order (newest first
// with Desc) and whether more follow.
func (s *Store) ListFiles(q ListQuery) (page []File, hasMore bool, err error) {
	var all []File
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFiles).ForEach(func(_, v []byte) error {
			var f File
			if err := decode(v, &f); err != nil {
				return err
			}
			if f.Org == q.Org && (q.Purpose == "" || f.Purpose == q.Purpose) && !s.fileExpired(&f) {
				all = append(all, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	sort.Slice(all, func(i, j int) bool {
		if q.Desc {
			return all[i].Seq > all[j].Seq
		}
		return all[i].Seq < all[j].Seq
	})
	if q.After != "" {
		i := 0
		for i < len(all) && all[i].ID != q.After {
			i++
		}
		if i == len(all) {
			return nil, false, invalid("after", "invalid_cursor", "after=%q is not the id of a file in this list; pass the last_id of the previous page.", q.After)
		}
		all = all[i+1:]
	}
	if len(all) > q.Limit {
		return all[:q.Limit], true, nil
	}
	return all, false, nil
}

// DeleteFile deletes a file and its bytes.
func (s *Store) DeleteFile(org, id string) error {
	var paths []string
	err := s.update(func(tx *bolt.Tx) error {
		paths = nil // the function may run more than once (see update)
		f, err := s.getFile(tx, org, id)
		if err != nil {
			return err
		}
		for _, e := range f.Extents {
			paths = append(paths, e.Path)
		}
		return tx.Bucket(bucketFiles).Delete([]byte(id))
	})
	if err != nil {
		return err
	}
	s.removeBytes(paths)
	return nil
}

// Content is a file's bytes as one seekable stream over its extents. The
// extents are opened up front, so a concurrent delete does not cut a read short.
type Content struct {
	files  []*os.File
	starts []int64 // offset of each extent in the file
	size   int64
	pos    int64
}

// OpenContent opens the bytes of f for reading.
func (s *Store) OpenContent(f File) (*Content, error) {
	c := &Content{size: f.Bytes}
	var off int64
	for _, e := range f.Extents {
		fh, err := os.Open(s.abs(e.Path))
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("open bytes of %s: %w", f.ID, err)
		}
		c.files = append(c.files, fh)
		c.starts = append(c.starts, off)
		off += e.Bytes
	}
	return c, nil
}

// Read implements io.Reader.
func (c *Content) Read(p []byte) (int, error) {
	if c.pos >= c.size {
		return 0, io.EOF
	}
	i := sort.Search(len(c.starts), func(i int) bool { return c.starts[i] > c.pos }) - 1
	end := c.size
	if i+1 < len(c.starts) {
		end = c.starts[i+1]
	}
	if rem := end - c.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.files[i].ReadAt(p, c.pos-c.starts[i])
	c.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // an extent shorter than its record
	}
	return n, err
}

// Seek implements io.Seeker.
func (c *Content) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.pos
	case io.SeekEnd:
		offset += c.size
	default:
		return c.pos, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return c.pos, errors.New("seek: negative position")
	}
	c.pos = offset
	return offset, nil
}

// Close closes the extents.
func (c *Content) Close() error {
	for _, f := range c.files {
		_ = f.Close()
	}
	return nil
}
