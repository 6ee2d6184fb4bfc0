// Command sdkput uploads a file through the Uploads API with the official Go
// SDK (openai-go/v3) the way its documentation and the other official SDKs
// suggest: sequentially, one part at a time, each part read whole into memory
// and passed to client.Uploads.Parts.New as a bytes.Reader, the file's MD5
// computed on the way, then Complete with the part ids and the MD5.
//
// It is the baseline of the benchmarks in internal/bench: it does nothing
// clever on purpose, except reusing one part-sized buffer (the kindest
// reading of "read a chunk into memory").
//
//	OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=sk-x \
//	  go run ./scripts/sdkput --file clip.mp4 --purpose video --part-size 64MiB
//
// It prints the id of the resulting file on stdout.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"

	"github.com/openai/openai-go/v3"

	"github.com/uploads-dev/uploads/internal/units"
)

func main() {
	file := flag.String("file", "", "file to upload (required)")
	purpose := flag.String("purpose", "", "purpose of the file (required), e.g. video")
	partSize := flag.String("part-size", "64MiB", "bytes per part, at most 64MiB")
	mimeType := flag.String("mime-type", "", "MIME type to declare (default: from the file's extension)")
	flag.Parse()
	if *file == "" || *purpose == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: sdkput --file FILE --purpose PURPOSE [--part-size 64MiB] [--mime-type TYPE]")
		os.Exit(2)
	}
	size, err := units.ParseSize(*partSize)
	if err != nil || size <= 0 || size > 64<<20 {
		fmt.Fprintf(os.Stderr, "sdkput: --part-size %q: expected a size from 1 byte to 64MiB\n", *partSize)
		os.Exit(2)
	}
	mt := *mimeType
	if mt == "" {
		if mt = mime.TypeByExtension(filepath.Ext(*file)); mt == "" {
			fmt.Fprintf(os.Stderr, "sdkput: no MIME type known for %s: pass --mime-type\n", *file)
			os.Exit(2)
		}
	}
	id, err := put(context.Background(), *file, *purpose, mt, size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkput:", err)
		os.Exit(1)
	}
	fmt.Println(id)
}

// put uploads path and returns the file id. The client reads OPENAI_BASE_URL
// and OPENAI_API_KEY from the environment.
func put(ctx context.Context, path, purpose, mimeType string, partSize int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	client := openai.NewClient()
	up, err := client.Uploads.New(ctx, openai.UploadNewParams{
		Bytes:    st.Size(),
		Filename: filepath.Base(path),
		MimeType: mimeType,
		Purpose:  openai.FilePurpose(purpose),
	})
	if err != nil {
		return "", fmt.Errorf("create the upload: %w", err)
	}
	h := md5.New()
	buf := make([]byte, partSize)
	var ids []string
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			chunk := buf[:n]
			h.Write(chunk)
			part, perr := client.Uploads.Parts.New(ctx, up.ID, openai.UploadPartNewParams{Data: bytes.NewReader(chunk)})
			if perr != nil {
				return "", fmt.Errorf("part %d: %w", len(ids)+1, perr)
			}
			ids = append(ids, part.ID)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	done, err := client.Uploads.Complete(ctx, up.ID, openai.UploadCompleteParams{
		PartIDs: ids,
		Md5:     openai.String(hex.EncodeToString(h.Sum(nil))),
	})
	if err != nil {
		return "", fmt.Errorf("complete: %w", err)
	}
	return done.File.ID, nil
}
