// Package termtest plays what a program wrote to a terminal and returns the
// lines left on the screen, so that tests can assert what a person sees: a
// progress view redrawn in place, lines that wrap. It knows the few escapes
// the uploads command line writes and refuses any other.
package termtest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var csi = regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)

// Screen plays out on a terminal of width columns and returns the lines on
// it, trailing blanks trimmed: text, "\r", "\n", and the escapes cursor up
// (ESC[nA), erase below (ESC[J) and erase to the end of the line (ESC[K,
// ESC[2K). A line longer than the width wraps, as a terminal wraps it.
func Screen(out string, width int) ([]string, error) {
	lines := [][]rune{{}}
	row, col := 0, 0
	grow := func() {
		for row >= len(lines) {
			lines = append(lines, []rune{})
		}
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
			grow()
		case '\x1b':
			m := csi.FindStringSubmatch(string(rs[i:min(i+16, len(rs))]))
			if m == nil {
				return nil, fmt.Errorf("unknown escape at %q", string(rs[i:min(i+10, len(rs))]))
			}
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "A":
				row = max(row-max(n, 1), 0)
			case "J":
				lines[row] = lines[row][:min(col, len(lines[row]))]
				lines = lines[:row+1]
			case "K":
				if n == 2 {
					lines[row] = lines[row][:0]
				} else {
					lines[row] = lines[row][:min(col, len(lines[row]))]
				}
			default:
				return nil, fmt.Errorf("unexpected escape %q", m[0])
			}
			i += len([]rune(m[0])) - 1
		default:
			if col >= width {
				row, col = row+1, 0
			}
			grow()
			for len(lines[row]) <= col {
				lines[row] = append(lines[row], ' ')
			}
			lines[row][col] = r
			col++
		}
	}
	var s []string
	for _, l := range lines {
		s = append(s, strings.TrimRight(string(l), " "))
	}
	for len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s, nil
}
