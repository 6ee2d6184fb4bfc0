package units

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string // a substring of the error; "" for success
	}{
		{in: "64MiB", want: 67108864},
		{in: "8GiB", want: 8589934592},
		{in: "40MB", want: 40000000},
		{in: "1048576", want: 1048576},
		{in: " 1 KiB ", want: 1024},
		{in: "0", want: 0},
		{in: "1B", want: 1},
		{in: "1 b", want: 1},
		{in: "1kib", want: 1024},
		{in: "1KB", want: 1000},
		{in: "2TiB", want: 2 << 40},
		{in: "1,024", want: 1024}, // humanize drops thousands separators
		// A decimal number is fine when it makes whole bytes, and exact.
		{in: "1.5KiB", want: 1536},
		{in: "0.5MiB", want: 512 << 10},
		{in: ".5KiB", want: 512},
		{in: "4.35MB", want: 4350000},
		{in: "0.25EiB", want: 1 << 58},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "7EiB", want: 7 << 60},

		{in: "", wantErr: "empty size"},
		{in: "   ", wantErr: "empty size"},
		{in: "-1", wantErr: "negative"},
		{in: " -64MiB", wantErr: "negative"},
		{in: "abc", wantErr: "not understood"},
		{in: "MiB", wantErr: "not understood"},
		{in: "12 parsecs", wantErr: "not understood"},
		{in: "1e3", wantErr: "not understood"},
		{in: "1.2.3", wantErr: "not understood"},
		// humanize would truncate these to 1, 0 and 1024 bytes.
		{in: "1.5", wantErr: "not a whole number of bytes"},
		{in: "0.5", wantErr: "not a whole number of bytes"},
		{in: "1.0001KiB", wantErr: "not a whole number of bytes"},
		{in: "9223372036854775808", wantErr: "too large"},
		{in: "8EiB", wantErr: "too large"},
		{in: "9.3EB", wantErr: "too large"},
		{in: "18446744073709551616", wantErr: "size"},
		{in: "99999999999EB", wantErr: "size"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error mentioning %q", tt.in, got, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseSize(%q) error %q, want it to mention %q", tt.in, err, tt.wantErr)
		}
		if got != 0 {
			t.Errorf("ParseSize(%q) returned %d with its error, want 0", tt.in, got)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1000, "1000"},
		{1023, "1023"},
		{1024, "1KiB"},
		{1025, "1025"},
		{1536, "1536"},
		{67108864, "64MiB"},
		{8 << 30, "8GiB"},
		{3 << 40, "3TiB"},
		{1 << 50, "1PiB"},
		{7 << 60, "7EiB"},
		{math.MaxInt64, "9223372036854775807"},
	}
	for _, tt := range tests {
		s := Size(tt.n)
		if got := s.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", tt.n, got, tt.want)
		}
		var back Size
		if err := back.Set(s.String()); err != nil || back != s {
			t.Errorf("Set(%q) = %d, %v; want %d", s.String(), back, err, tt.n)
		}
	}
	var s Size
	if s.Type() != "size" {
		t.Errorf("Type() = %q, want size", s.Type())
	}
	if err := s.Set("64 parsecs"); err == nil {
		t.Errorf("Set(%q) succeeded, want an error", "64 parsecs")
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 67108864: "64 MiB", -5: "-5 B"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{
		"64MiB", "8GiB", "40MB", "1048576", " 1 KiB ", "", "-1", "abc", "1.5",
		"1.5KiB", "99999999999EB", "9223372036854775807", "9223372036854775808",
		"1,024", ".5", "5.", "0.0000001EiB", "1e3", "١٢", "8 eib", "0x10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := ParseSize(in)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseSize(%q) = %d with error %v, want 0", in, n, err)
			}
			if err.Error() == "" {
				t.Fatalf("ParseSize(%q): empty error message", in)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, want ≥ 0", in, n)
		}
		s := Size(n)
		str := s.String()
		var back Size
		if err := back.Set(str); err != nil {
			t.Fatalf("ParseSize(%q) = %d, but Set(String() = %q) fails: %v", in, n, str, err)
		}
		if back != s {
			t.Fatalf("ParseSize(%q) = %d, String() = %q, Set gives %d", in, n, str, back)
		}
	})
}
