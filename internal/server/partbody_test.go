package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"strings"
	"testing"
)

// referenceData is what the server read before partData: the first field
// named data, through mime/multipart (256 KiB buffer), skipping other fields.
func referenceData(body []byte, boundary string) (data []byte, found, failed bool) {
	mr := multipart.NewReader(bufio.NewReaderSize(bytes.NewReader(body), 256<<10), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, false, false
		}
		if err != nil {
			return nil, false, true
		}
		if p.FormName() == "data" {
			b, err := io.ReadAll(p)
			return b, true, err != nil
		}
		if _, err := io.CopyN(io.Discard, p, multipartSlack+1); err == nil {
			return nil, false, true
		}
	}
}

// chunks hands out body a few bytes at a time, in sizes from pattern.
type chunks struct {
	b       []byte
	pattern []byte
	i       int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := len(c.b)
	if len(c.pattern) > 0 {
		n = int(c.pattern[c.i%len(c.pattern)])*97 + 1
		c.i++
	}
	n = min(n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// readAllIn reads r with buffers of size n, as a caller with that buffer
// would.
func readAllIn(r io.Reader, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func checkPartData(t *testing.T, body []byte, boundary string, pattern []byte, bufSize int) {
	t.Helper()
	want, wantFound, wantFailed := referenceData(body, boundary)
	r, h, err := partData(&chunks{b: body, pattern: pattern}, boundary)
	found := h != nil
	failed := err != nil
	var got []byte
	if err == nil && found {
		got, err = readAllIn(r, bufSize)
		failed = err != nil
	}
	if found != wantFound || failed != wantFailed || (!failed && !bytes.Equal(got, want)) {
		t.Fatalf("body %q, boundary %q, chunks %v, buffer %d:\npartData: found %v, failed %v (%v), data %q\nmultipart: found %v, failed %v, data %q",
			body, boundary, pattern, bufSize, found, failed, err, got, wantFound, wantFailed, want)
	}
}

func partBody(boundary, preamble, header, data, after string) []byte {
	return []byte(preamble + "--" + boundary + "\r\n" + header + "\r\n" + data + after)
}

const dataHeader = "Content-Disposition: form-data; name=\"data\"; filename=\"part\"\r\nContent-Type: application/octet-stream\r\n"

var partDataSeeds = [][]byte{
	partBody("b", "", dataHeader, "hello", "\r\n--b--\r\n"),
	partBody("b", "", dataHeader, "", "\r\n--b--\r\n"),
	partBody("b", "preamble\r\n", dataHeader, "x\r\n--bx\r\n--b-y", "\r\n--b--"),
	partBody("b", "", dataHeader, "data", "\r\n--b \t\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nx\r\n--b--\r\n"),
	partBody("b", "", dataHeader, "cut short", ""),
	partBody("b", "", dataHeader, "cut at the boundary", "\r\n--b"),
	partBody("b", "", dataHeader, "cut in the boundary", "\r\n--"),
	partBody("b", "", dataHeader, "a dash", "\r\n--b-"),
	partBody("b", "", "Content-Disposition: form-data; name=\"note\"\r\n", "first", "\r\n--b\r\n"+dataHeader+"\r\nsecond\r\n--b--\r\n"),
	partBody("b", "", dataHeader+"Content-Transfer-Encoding: quoted-printable\r\n", "a=3Db", "\r\n--b--\r\n"),
	[]byte("--b\n" + strings.ReplaceAll(dataHeader, "\r\n", "\n") + "\nLF only\n--b--\n"),
	[]byte("--b--\r\n"),
	[]byte(""),
	partBody("b", strings.Repeat("long preamble ", 400)+"\r\n", dataHeader, "after a long line", "\r\n--b--\r\n"),
	partBody("b", "", "Content-Disposition: form-data; name=data\r\n", "--b\r\n", "\r\n--b--\r\n"),
	partBody("b", "", dataHeader, strings.Repeat("\r\n--", 3000)+"\r", "\r\n--b--\r\n"),
	partBody("b", "", dataHeader, "--b", "\r\n--b--\r\n"),
}

// partData returns exactly what mime/multipart returns for the data field,
// for every body, whatever sizes the bytes arrive in and are asked for.
func TestPartDataAgreesWithMultipart(t *testing.T) {
	big := partBody("boundary42", "", dataHeader, strings.Repeat("0123456789abcdef\r\n--boundary4", 9000), "\r\n--boundary42--\r\n")
	for _, body := range append(partDataSeeds, big) {
		boundary := "b"
		if bytes.Contains(body, []byte("boundary42")) {
			boundary = "boundary42"
		}
		for _, pattern := range [][]byte{nil, {0}, {3, 0, 1}, {200}} {
			for _, size := range []int{1, 7, 4095, 4096, 65536, 1 << 20} {
				checkPartData(t, body, boundary, pattern, size)
			}
		}
	}
}

func FuzzPartData(f *testing.F) {
	for i, body := range partDataSeeds {
		f.Add(body, "b", []byte{byte(i)}, uint32(4096<<(i%3)))
	}
	f.Fuzz(func(t *testing.T, body []byte, boundary string, pattern []byte, bufSize uint32) {
		if boundary == "" || strings.ContainsAny(boundary, "\r\n") || len(body) > 64<<10 {
			t.Skip()
		}
		checkPartData(t, body, boundary, pattern, int(bufSize%(1<<17))+1)
	})
}

// A data field that is not the first part still goes through mime/multipart.
func TestPartDataFallsBackForOtherShapes(t *testing.T) {
	body := partBody("b", "", "Content-Disposition: form-data; name=\"note\"\r\n", "first", "\r\n--b\r\n"+dataHeader+"\r\nsecond\r\n--b--\r\n")
	r, h, err := partData(bytes.NewReader(body), "b")
	if err != nil || h == nil {
		t.Fatalf("header %v, err %v", h, err)
	}
	if _, direct := r.(*directPart); direct {
		t.Fatal("the data field is second: expected mime/multipart")
	}
	r, _, _ = partData(bytes.NewReader(partDataSeeds[0]), "b")
	if _, direct := r.(*directPart); !direct {
		t.Fatal("the data field is first: expected the direct reader")
	}
	if _, _, err := partData(bytes.NewReader(partBody("b", "", "Content-Disposition: form-data; name=\"x\"\r\n",
		strings.Repeat("x", multipartSlack+1), "\r\n--b--\r\n")), "b"); !errors.As(err, new(*fieldTooLargeError)) {
		t.Fatalf("an oversized other field: err %v", err)
	}
}
