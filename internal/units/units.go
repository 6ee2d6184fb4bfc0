// Package units parses the byte sizes that flags take ("64MiB", "8GiB",
// "40MB", "1048576") and formats them back.
package units

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
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
	if strings.Contains(t, ".") {
		// humanize multiplies a decimal number in floating point and
		// truncates, so "1.5" would be 1 byte: redo it exactly.
		exact, ok := exactBytes(t)
		if !ok {
			return 0, fmt.Errorf("size %q is not a whole number of bytes: expected bytes such as 67108864 or 64MiB", s)
		}
		if !exact.IsInt64() {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return exact.Int64(), nil
	}
	return int64(n), nil
}

// exactBytes computes a decimal size that humanize accepted ("1.5KiB",
// "0.5 MB") in exact arithmetic; ok is false when it is not a whole number of
// bytes.
func exactBytes(t string) (n *big.Int, ok bool) {
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != ',' })
	if i < 0 {
		i = len(t)
	}
	unit, err := humanize.ParseBytes("1" + t[i:])
	if err != nil {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(strings.ReplaceAll(t[:i], ",", ""))
	if !ok {
		return nil, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).SetUint64(unit)))
	if !r.IsInt() {
		return nil, false
	}
	return r.Num(), true
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

// binaryUnits are the units String writes, largest first.
var binaryUnits = []struct {
	name string
	size int64
}{{"EiB", 1 << 60}, {"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

// String implements pflag.Value. It is exact, so that Set(String()) gives the
// same size: the largest binary unit that divides the size ("64MiB"), else
// the bytes ("1025").
func (s *Size) String() string {
	n := int64(*s)
	for _, u := range binaryUnits {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
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
