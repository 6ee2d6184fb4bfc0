package store

import (
	bolt "go.etcd.io/bbolt"
)

// Reaped counts what one Reap removed.
type Reaped struct {
	Uploads int // pending uploads marked expired, their parts deleted
	Files   int // expired files deleted
}

// Reap marks pending uploads past their expiry as expired, deleting their
// parts, and deletes expired files.
func (s *Store) Reap() (Reaped, error) {
	var r Reaped
	var expiredUploads []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUploads).ForEach(func(k, v []byte) error {
			var u Upload
			if err := decode(v, &u); err != nil {
				return err
			}
			if s.expired(&u) {
				expiredUploads = append(expiredUploads, u.ID)
			}
			return nil
		})
	})
	if err != nil {
		return r, err
	}
	for _, id := range expiredUploads {
		ok, err := s.expireUpload(id)
		if err != nil {
			return r, err
		}
		if ok {
			r.Uploads++
		}
	}

	var paths []string
	err = s.update(func(tx *bolt.Tx) error {
		paths = nil // the function may run more than once (see update)
		b := tx.Bucket(bucketFiles)
		var ids [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var f File
			if err := decode(v, &f); err != nil {
				return err
			}
			if s.fileExpired(&f) {
				ids = append(ids, append([]byte(nil), k...))
				for _, e := range f.Extents {
					paths = append(paths, e.Path)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range ids {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		r.Files = len(ids)
		return nil
	})
	if err != nil {
		return r, err
	}
	s.removeBytes(paths)
	return r, nil
}

func (s *Store) expireUpload(id string) (bool, error) {
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	var discard []string
	done := false
	err := s.update(func(tx *bolt.Tx) error {
		done, discard = false, nil // the function may run more than once (see update)
		var u Upload
		v := tx.Bucket(bucketUploads).Get([]byte(id))
		if v == nil {
			return nil
		}
		if err := decode(v, &u); err != nil {
			return err
		}
		if !s.expired(&u) {
			return nil
		}
		parts, err := s.listParts(tx, id)
		if err != nil {
			return err
		}
		if discard, err = deleteParts(tx, parts, nil); err != nil {
			return err
		}
		u.Status = StatusExpired
		done = true
		return tx.Bucket(bucketUploads).Put([]byte(id), encode(u))
	})
	if err != nil {
		return false, err
	}
	s.removeBytes(discard)
	return done, nil
}
