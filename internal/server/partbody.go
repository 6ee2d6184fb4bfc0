package server

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
)

// partData returns the bytes of a part upload's "data" field.
//
// When the body's first part is that field (as every client sends it), the
// bytes are read straight from the request body into the caller's buffer:
// mime/multipart would first copy every byte into its own buffer, which costs
// the server about a tenth of its CPU per part (docs/benchmarks.md). The
// boundary is then found with the same rules as mime/multipart's (see
// scanUntilBoundary); FuzzPartData checks the two agree. Any other shape (a
// preamble line longer than the line buffer, LF-only line endings, another
// field first, quoted-printable, more than multipartSlack bytes before the
// data) goes to mime/multipart,
// which sees the whole body from its first byte. header is the field's MIME
// header (Azure mode checks its Content-Type); it is nil when the body has no
// "data" field.
func partData(body io.Reader, boundary string) (data io.Reader, header textproto.MIMEHeader, err error) {
	// The header reader takes at most multipartSlack bytes, all kept in rec.
	var rec bytes.Buffer
	br := bufio.NewReaderSize(io.TeeReader(io.LimitReader(body, multipartSlack), &rec), 4096)
	if h, ok := firstPartHeader(br, boundary); ok && isDataField(h) {
		pending, _ := br.Peek(br.Buffered())
		return &directPart{
			src:     body,
			pending: append([]byte(nil), pending...),
			dash:    []byte("--" + boundary),
			nlDash:  []byte("\r\n--" + boundary),
		}, nonNil(h), nil
	}
	// Everything the header reader took is in rec: start again from there.
	mr := multipart.NewReader(bufio.NewReaderSize(io.MultiReader(&rec, body), 256<<10), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if p.FormName() == "data" {
			return p, nonNil(p.Header), nil
		}
		// Other fields are not part of the API: skip them, bounded.
		if _, err := io.CopyN(io.Discard, p, multipartSlack+1); err == nil {
			return nil, nil, &fieldTooLargeError{name: p.FormName()}
		}
	}
}

// nonNil is h, or an empty header in its place.
func nonNil(h textproto.MIMEHeader) textproto.MIMEHeader {
	if h == nil {
		return textproto.MIMEHeader{}
	}
	return h
}

// fieldTooLargeError is a multipart field other than data over multipartSlack.
type fieldTooLargeError struct{ name string }

func (e *fieldTooLargeError) Error() string {
	return "multipart field " + e.name + " is too large"
}

// firstPartHeader reads the preamble and the header of the first part, the
// way mime/multipart's NextPart does for CRLF line endings; ok is false for
// anything else (the caller then hands the whole body to mime/multipart).
func firstPartHeader(br *bufio.Reader, boundary string) (textproto.MIMEHeader, bool) {
	dash := []byte("--" + boundary)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, false
		}
		if !bytes.HasPrefix(line, dash) {
			continue // preamble
		}
		rest := bytes.TrimLeft(line[len(dash):], " \t")
		if !bytes.Equal(rest, []byte("\r\n")) {
			return nil, false // the final boundary, LF-only endings, or a line to reject
		}
		h, err := textproto.NewReader(br).ReadMIMEHeader()
		if err != nil {
			return nil, false
		}
		return h, true
	}
}

// isDataField reports whether h is the header of a form field named data,
// with its bytes as they are (not quoted-printable).
func isDataField(h textproto.MIMEHeader) bool {
	if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
		return false
	}
	disposition, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	return err == nil && disposition == "form-data" && params["name"] == "data"
}

// directPart reads a part's bytes from src into the caller's buffer and
// stops at the boundary. pending holds bytes read but not yet known to be
// data (a possible start of the boundary), or known data (the first n) that
// did not fit the caller's buffer.
type directPart struct {
	src          io.Reader
	pending      []byte
	n            int // bytes at the front of pending known to be data
	dash, nlDash []byte
	total        int64 // bytes returned
	readErr      error // src's error; io.EOF before the boundary is io.ErrUnexpectedEOF
	err          error // what follows the data: io.EOF at the boundary, or readErr
}

// minDirect is the smallest caller's buffer read into straight from src.
const minDirect = 4096

func (p *directPart) Read(d []byte) (int, error) {
	for {
		if p.n > 0 {
			k := copy(d, p.pending[:p.n])
			p.pending = p.pending[k:]
			p.n -= k
			p.total += int64(k)
			if p.n == 0 && p.err != nil {
				p.pending = nil
				return k, p.err
			}
			return k, nil
		}
		if p.err != nil {
			return 0, p.err
		}
		if len(p.pending) == 0 && len(d) >= minDirect && p.readErr == nil {
			k, err := p.src.Read(d)
			p.noteErr(err)
			n, serr := scanUntilBoundary(d[:k], p.dash, p.nlDash, p.total, p.readErr)
			p.total += int64(n)
			if serr != nil {
				p.err = serr // returned by the next call
			} else {
				// Bytes not yet decided: a possible start of the boundary
				// (a few), or what follows a boundary-like line.
				p.pending = append(p.pending, d[n:k]...)
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		n, serr := scanUntilBoundary(p.pending, p.dash, p.nlDash, p.total, p.readErr)
		if n == 0 && serr == nil {
			if p.readErr != nil {
				p.err = p.readErr
				continue
			}
			var chunk [minDirect]byte
			k, err := p.src.Read(chunk[:])
			p.noteErr(err)
			p.pending = append(p.pending, chunk[:k]...)
			continue
		}
		p.n = n
		if serr != nil {
			p.err = serr
			p.pending = p.pending[:n]
		}
		if n == 0 {
			return 0, p.err
		}
	}
}

func (p *directPart) noteErr(err error) {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && p.readErr == nil {
		p.readErr = err
	}
}

// scanUntilBoundary is mime/multipart's rule, for the bytes of a part read
// so far in buf (after total bytes already returned): it returns how many of
// them are the part's data, and io.EOF when the boundary follows them, or
// readErr when the input ended without one. Its answer depends only on its
// arguments, so that the data read here is the data mime/multipart returns.
func scanUntilBoundary(buf, dashBoundary, nlDashBoundary []byte, total int64, readErr error) (int, error) {
	if total == 0 {
		// At the beginning of the part, the boundary may follow at once.
		if bytes.HasPrefix(buf, dashBoundary) {
			switch matchAfterPrefix(buf, dashBoundary, readErr) {
			case -1:
				return len(dashBoundary), nil
			case 0:
				return 0, nil
			case +1:
				return 0, io.EOF
			}
		}
		if bytes.HasPrefix(dashBoundary, buf) {
			return 0, readErr
		}
	}
	if i := bytes.Index(buf, nlDashBoundary); i >= 0 {
		switch matchAfterPrefix(buf[i:], nlDashBoundary, readErr) {
		case -1:
			return i + len(nlDashBoundary), nil
		case 0:
			return i, nil
		case +1:
			return i, io.EOF
		}
	}
	if bytes.HasPrefix(nlDashBoundary, buf) {
		return 0, readErr
	}
	// Up to the last CR, or all of it when what follows the last CR cannot
	// begin the boundary, is data.
	i := bytes.LastIndexByte(buf, nlDashBoundary[0])
	if i >= 0 && bytes.HasPrefix(nlDashBoundary, buf[i:]) {
		return i, nil
	}
	return len(buf), readErr
}

// matchAfterPrefix says whether buf, which begins with prefix (a boundary),
// is the boundary: +1 when the prefix is followed by "--", a space, a tab,
// CR, LF or the end of the input; -1 when it is not; 0 when more input is
// needed to tell.
func matchAfterPrefix(buf, prefix []byte, readErr error) int {
	if len(buf) == len(prefix) {
		if readErr != nil {
			return +1
		}
		return 0
	}
	c := buf[len(prefix)]
	if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
		return +1
	}
	if c == '-' {
		if len(buf) == len(prefix)+1 {
			if readErr != nil {
				return -1
			}
			return 0
		}
		if buf[len(prefix)+1] == '-' {
			return +1
		}
	}
	return -1
}
