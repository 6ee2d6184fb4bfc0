package mimetype

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromName(t *testing.T) {
	for name, want := range map[string]string{
		"clip.mp4": "video/mp4", "CLIP.MOV": "video/quicktime", "a.mkv": "video/x-matroska",
		"train.jsonl": "application/jsonl", "notes.md": "text/markdown", "x.png": "image/png", "noext": "",
	} {
		if got := FromName(name); got != want {
			t.Errorf("FromName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestDetectFileSniffsWithoutExtension(t *testing.T) {
	dir := t.TempDir()
	// An MP4 begins with an ftyp box.
	mp4 := append([]byte{0, 0, 0, 0x18}, []byte("ftypisom\x00\x00\x02\x00isomiso2")...)
	cases := map[string][]byte{
		"video": mp4,
		"png":   []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"text":  []byte(strings.Repeat("plain words\n", 10)),
	}
	want := map[string]string{"video": "video/mp4", "png": "image/png", "text": "text/plain"}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := DetectFile(p); err != nil || got != want[name] {
			t.Errorf("DetectFile(%s) = %q, %v; want %q", name, got, err, want[name])
		}
	}
	if _, err := DetectFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was detected")
	}
}
