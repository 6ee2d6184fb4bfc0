package check

import (
	"encoding/binary"
	"math/bits"
)

// The fast path: objectLine decides, without allocating, whether a line is
// one valid JSON object, the verdict the Checker otherwise gets from
// json.Valid, a look at the first byte and utf8.Valid. It is 2.5 to 10
// times faster than that (docs/checks.md, Cost): the bulk of a JSONL file
// is string content, which it skips eight bytes at a time. It
// only says yes or no: a line it refuses goes through encoding/json again
// for the message. FuzzJSONL checks that both always agree.

// maxDepth is encoding/json's limit on nesting (maxNestingDepth in its
// scanner.go): a value nested deeper is refused as "exceeded max depth".
const maxDepth = 10000

// What the scanner expects next, outside strings.
const (
	wantValue        = iota // a value, after ':' or ',' in an array
	wantValueOrClose        // a value or ']', just after '['
	wantKey                 // a key, after ',' in an object
	wantKeyOrClose          // a key or '}', just after '{'
	wantComma               // ',' or the container's end, after a value
)

// Eight copies of a byte, for the SWAR tests in scanString.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = ones * '"'
	slashs = ones * '\\'
	spaces = ones * 0x20
)

// objectLine reports whether b is one JSON object, with JSON white space
// (space, tab, CR, LF) around it and nothing else, that encoding/json
// takes (json.Valid, nesting at most maxDepth) and whose bytes are all
// valid UTF-8 (utf8.Valid).
func objectLine(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	// kinds holds one bit per open container: 1 for an object, 0 for an
	// array. The first 64 levels fit in one word on the stack; only a
	// line nested deeper allocates (maxDepth bits, 1.25 KB).
	var word [1]uint64
	kinds := word[:]
	kinds[0] = 1
	depth := 1
	i++
	state := wantKeyOrClose
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		c := b[i]
		switch state {
		case wantKeyOrClose, wantKey:
			if c == '}' && state == wantKeyOrClose {
				depth--
				i++
				state = wantComma
				break
			}
			if c != '"' {
				return false
			}
			if i = scanString(b, i+1); i < 0 {
				return false
			}
			if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
				return false
			}
			i++
			state = wantValue
		case wantValue, wantValueOrClose:
			switch {
			case c == ']' && state == wantValueOrClose:
				depth--
				i++
				state = wantComma
			case c == '{' || c == '[':
				if depth == maxDepth {
					return false
				}
				w, bit := depth/64, uint64(1)<<(depth%64)
				if w == len(kinds) {
					kinds = make([]uint64, maxDepth/64+1)
					kinds[0] = word[0]
				}
				if c == '{' {
					kinds[w] |= bit
					state = wantKeyOrClose
				} else {
					kinds[w] &^= bit
					state = wantValueOrClose
				}
				depth++
				i++
			case c == '"':
				if i = scanString(b, i+1); i < 0 {
					return false
				}
				state = wantComma
			case c == '-' || c >= '0' && c <= '9':
				if i = scanNumber(b, i); i < 0 {
					return false
				}
				state = wantComma
			case c == 't':
				if !hasAt(b, i, "true") {
					return false
				}
				i += 4
				state = wantComma
			case c == 'f':
				if !hasAt(b, i, "false") {
					return false
				}
				i += 5
				state = wantComma
			case c == 'n':
				if !hasAt(b, i, "null") {
					return false
				}
				i += 4
				state = wantComma
			default:
				return false
			}
		case wantComma:
			object := kinds[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			switch {
			case c == ',' && object:
				state = wantKey
			case c == ',':
				state = wantValue
			case c == '}' && object, c == ']' && !object:
				depth--
			default:
				return false
			}
			i++
		}
		if depth == 0 {
			return skipSpace(b, i) == len(b)
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// hasAt reports whether b holds lit at i.
func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanString checks the string whose content starts at i (just after its
// opening quote) and returns the index just after its closing quote, or -1
// when it is not a valid JSON string of valid UTF-8.
//
// It skips pure ASCII eight bytes at a time, as before. From the first
// special byte to the next escape it reads eight bytes at a time and stops
// only at a quote, a backslash or a control character: non-ASCII bytes are
// checked as UTF-8 within the word (utf8Word), so a line of accented or
// CJK text does not stop at every character. What it cannot settle there
// (a rare lead byte, a \u or bad escape, the last bytes of b, a wrong
// byte) it hands to scanStringSlow, from the last point known to start a
// character.
func scanString(b []byte, i int) int {
	for {
		// Pure ASCII: skip eight bytes at a time while none is special.
		for len(b)-i >= 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, s := x^quotes, x^slashs
			if m := ((q-ones)&^q | (s-ones)&^s | (x-spaces)&^x | x) & highs; m != 0 {
				break
			}
			i += 8
		}
		start := i      // where scanStringSlow may take over: a character starts there
		var want uint64 // continuation bytes the previous word's last characters need
		for {
			if len(b)-i < 8 {
				return scanStringSlow(b, start)
			}
			x := binary.LittleEndian.Uint64(b[i:])
			q, s := x^quotes, x^slashs
			// The lowest byte flagged is always a quote, a backslash or
			// a control character (the borrows of the subtractions only
			// flag bytes above such a byte); non-ASCII bytes are never
			// flagged (the &^ terms clear their high bits).
			m := ((q-ones)&^q | (s-ones)&^s | (x-spaces)&^x) & highs
			if want|x&highs != 0 {
				var bad uint64
				bad, want = utf8Word(x, want)
				// m^(m-1) covers the bytes up to the stop, all eight
				// when there is none: a character the stop cuts is bad.
				if bad&(m^(m-1)) != 0 {
					return scanStringSlow(b, start)
				}
			}
			if m == 0 {
				i += 8
				if want == 0 {
					start = i
				}
				continue
			}
			i += bits.TrailingZeros64(m) / 8
			if b[i] == '"' {
				return i + 1
			}
			if b[i] != '\\' || i+1 >= len(b) || !escapes[b[i+1]] {
				return scanStringSlow(b, i)
			}
			i += 2
			break
		}
	}
}

// escapes marks the bytes that may follow a backslash, but for u.
var escapes = [256]bool{'"': true, '\\': true, '/': true, 'b': true, 'f': true, 'n': true, 'r': true, 't': true}

// utf8Word checks the UTF-8 of the eight bytes in x (little-endian), given
// the continuation bytes that characters begun before them still want
// (high bits set, bytes 0 to 2). It returns, as high bits, the bytes that
// are wrong or that it does not settle itself (lead bytes E0, ED, C0, C1,
// F0 and above, whose second byte has a narrower range or which are never
// valid), and the continuation bytes the next word must begin with.
func utf8Word(x, want uint64) (bad, next uint64) {
	h := x & highs
	lead := h & (x << 1)      // 11xxxxxx
	lead3 := lead & (x << 2)  // 111xxxxx
	lead4 := lead3 & (x << 3) // 1111xxxx
	cont := h &^ lead         // 10xxxxxx
	exp := lead<<8 | lead3<<16 | lead4<<24 | want
	lo4 := (x&(ones*0x0F) + ones*0x7F) & highs              // low nibble not 0
	d4 := ((x^(ones*0x0D))&(ones*0x0F) + ones*0x7F) & highs // low nibble not D
	c01 := (x&(ones*0x3E) + ones*0x7E) & highs              // not C0 or C1 (among 110xxxxx)
	odd := lead4 | lead3&^lo4 | lead3&^d4 | lead&^lead3&^c01
	return exp ^ cont | odd, lead>>56 | lead3>>48 | lead4>>40
}

// scanStringSlow checks the string whose content starts at i (just after its
// opening quote) and returns the index just after its closing quote, or -1
// when it is not a valid JSON string of valid UTF-8.
func scanStringSlow(b []byte, i int) int {
	for {
		// Skip eight bytes at a time while none is special: a quote, a
		// backslash, a control character or a non-ASCII byte. The lowest
		// byte flagged is always a special one (the borrows of the
		// subtractions only flag bytes above a special one).
		for len(b)-i >= 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, s := x^quotes, x^slashs
			if m := ((q-ones)&^q | (s-ones)&^s | (x-spaces)&^x | x) & highs; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		case c < 0x80:
			i++
		default:
			n := utf8Len(b[i:])
			if n == 0 {
				return -1
			}
			i += n
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// utf8Len returns the length of the valid UTF-8 sequence at the start of b,
// whose first byte is not ASCII, or 0 when it is not valid: the same
// ranges as unicode/utf8 (no overlong forms, no surrogates, nothing above
// U+10FFFF).
func utf8Len(b []byte) int {
	c := b[0]
	n, lo, hi := 0, byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		n = 2
	case c == 0xE0:
		n, lo = 3, 0xA0
	case c == 0xED:
		n, hi = 3, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		n = 3
	case c == 0xF0:
		n, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		n = 4
	case c == 0xF4:
		n, hi = 4, 0x8F
	default:
		return 0
	}
	if len(b) < n || b[1] < lo || b[1] > hi {
		return 0
	}
	for _, x := range b[2:n] {
		if x < 0x80 || x > 0xBF {
			return 0
		}
	}
	return n
}

// scanNumber checks the number that starts at i and returns the index just
// after it, or -1: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
