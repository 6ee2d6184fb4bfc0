package termtest

import (
	"slices"
	"testing"
)

func TestScreen(t *testing.T) {
	for _, tc := range []struct {
		out   string
		width int
		want  []string
	}{
		{"abc\rx", 10, []string{"xbc"}},
		{"one\ntwo\nthree\r\x1b[1A\x1b[Jfour", 10, []string{"one", "four"}},
		{"abcdefgh", 5, []string{"abcde", "fgh"}},
		{"abc\r\x1b[2Kz", 10, []string{"z"}},
		{"abc\rab\x1b[K", 10, []string{"ab"}},
	} {
		got, err := Screen(tc.out, tc.width)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Screen(%q, %d) = %q, %v; want %q", tc.out, tc.width, got, err, tc.want)
		}
	}
	if _, err := Screen("\x1b[5m", 10); err == nil {
		t.Error("an unknown escape was accepted")
	}
}
