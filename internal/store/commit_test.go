package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Concurrent writers are committed together, each sees the changes of those
// before it in its group, and a failing one (or a panicking one) has its own
// error and leaves no change, while the others' changes are kept.
func TestUpdateGroupsWriters(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 64
	bucket := []byte("meta")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucket)
				if err := b.Put([]byte(fmt.Sprintf("k%02d", i)), []byte("v")); err != nil {
					return err
				}
				// A counter every writer increments: lost updates would show.
				c := 0
				if v := b.Get([]byte("count")); v != nil {
					fmt.Sscan(string(v), &c)
				}
				if err := b.Put([]byte("count"), []byte(fmt.Sprint(c+1))); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return fmt.Errorf("writer %d fails", i)
				case 7:
					panic(fmt.Sprintf("writer %d panics", i))
				}
				return nil
			})
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch i % 10 {
		case 3:
			if err == nil || err.Error() != fmt.Sprintf("writer %d fails", i) {
				t.Errorf("writer %d: err %v, want its own error", i, err)
			}
		case 7:
			if err == nil || errors.Is(err, errLead) {
				t.Errorf("writer %d panicked: err %v, want an error", i, err)
			}
		default:
			ok++
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for i := range n {
			got := b.Get([]byte(fmt.Sprintf("k%02d", i))) != nil
			if want := i%10 != 3 && i%10 != 7; got != want {
				t.Errorf("writer %d's change kept: %v, want %v", i, got, want)
			}
		}
		if c := string(b.Get([]byte("count"))); c != fmt.Sprint(ok) {
			t.Errorf("count = %s, want %d (one per successful writer)", c, ok)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
