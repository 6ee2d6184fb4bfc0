// Package units parses the byte sizes that flags take ("64MiB", "8GiB",
// "40MB", "1048576") and formats them back.
package units

import (
	"fmt"
	"math"
	"strings"

	"github.com/dustin/go-humanize"
)

// ParseSize reads a byte size: a whole number of bytes, or a number with a
// unit, binary (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB). It refuses
// negative, fractional-byte and overflowing values.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size: expected bytes such as 67108864 or 64MiB")
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("size %q is negative: expected bytes such as 67108864 or 64MiB", s)
	}
	n, err := humanize.ParseBytes(t)
	if err != nil {
		return 0, fmt.Errorf("size %q is not understood: expected bytes such as 67108864 or a number with a unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(n), nil
}

// FormatSize writes n in binary units ("64 MiB").
func FormatSize(n int64) string {
	if n < 0 {
		return fmt.Sprintf("%d B", n)
	}
	return humanize.IBytes(uint64(n))
}

// Size is a byte size flag (a pflag.Value).
type Size int64

// String implements pflag.Value.
func (s *Size) String() string {
	if *s == 0 {
		return "0"
	}
	return strings.ReplaceAll(FormatSize(int64(*s)), " ", "")
}

// Set implements pflag.Value.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// Type implements pflag.Value.
func (s *Size) Type() string { return "size" }
