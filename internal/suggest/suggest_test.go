package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"purpse", "purpose", 1}, {"dryrun", "dry-run", 1}, {"kitten", "sitting", 3}, {"abc", "", 3}, {"ab", "ba", 2}, {"日本", "日", 1}} {
		if d := Distance(c.a, c.b); d != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, d, c.d)
		}
	}
}
