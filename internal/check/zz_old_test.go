package check

import (
	"encoding/binary"
	"math/bits"
)

func objectLineOld(b []byte) bool {
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
			if i = scanStringOld(b, i+1); i < 0 {
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
				if i = scanStringOld(b, i+1); i < 0 {
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

func scanStringOld(b []byte, i int) int {
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
			n := utf8LenOld(b[i:])
			if n == 0 {
				return -1
			}
			i += n
		}
	}
}

func utf8LenOld(b []byte) int {
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
