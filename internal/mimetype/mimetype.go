// Package mimetype decides the MIME type to declare for a file: from its
// extension first (a table of the types the Uploads API knows, then the
// system's), else from its first bytes.
package mimetype

import (
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	sniff "github.com/gabriel-vasile/mimetype"
)

// byExtension maps extensions to the types the API's purposes allow, so that
// the answer does not depend on the machine's mime.types.
var byExtension = map[string]string{
	".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".qt": "video/quicktime",
	".webm": "video/webm", ".mkv": "video/x-matroska", ".mpeg": "video/mpeg", ".mpg": "video/mpeg",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif",
	".jsonl": "application/jsonl", ".ndjson": "application/x-ndjson", ".json": "application/json",
	".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown", ".html": "text/html", ".htm": "text/html",
	".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript", ".ts": "application/typescript",
	".c": "text/x-c", ".h": "text/x-c", ".cpp": "text/x-c++", ".cc": "text/x-c++", ".hpp": "text/x-c++", ".cs": "text/x-csharp",
	".java": "text/x-java", ".php": "text/x-php", ".py": "text/x-python", ".rb": "text/x-ruby", ".tex": "text/x-tex",
	".sh": "application/x-sh", ".pdf": "application/pdf", ".doc": "application/msword",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// FromName returns the type for a file name's extension, or "".
func FromName(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == "" {
		return ""
	}
	if t, ok := byExtension[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if base, _, err := mime.ParseMediaType(t); err == nil {
			return base
		}
	}
	return ""
}

// FromContent sniffs the type from the first bytes of r.
func FromContent(r io.Reader) (string, error) {
	m, err := sniff.DetectReader(r)
	if err != nil {
		return "", err
	}
	base, _, err := mime.ParseMediaType(m.String())
	if err != nil {
		return m.String(), nil
	}
	return base, nil
}

// DetectFile returns the type of the file at path: by its extension, else by
// its content.
func DetectFile(path string) (string, error) {
	if t := FromName(path); t != "" {
		return t, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return FromContent(f)
}
