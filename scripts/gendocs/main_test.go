package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The committed Markdown reference matches the commands: run `make docs`
// after changing a command's help or flags. (Man pages carry a date, so only
// the Markdown is compared.)
func TestReferenceIsCurrent(t *testing.T) {
	out := t.TempDir()
	if err := run(out); err != nil {
		t.Fatal(err)
	}
	committed, _ := filepath.Glob("../../docs/reference/*.md")
	generated, _ := filepath.Glob(filepath.Join(out, "reference", "*.md"))
	if len(generated) == 0 || len(committed) != len(generated) {
		t.Fatalf("docs/reference has %d pages, the commands make %d: run make docs", len(committed), len(generated))
	}
	for _, g := range generated {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("../../docs/reference", filepath.Base(g)))
		if err != nil || string(got) != string(want) {
			t.Errorf("docs/reference/%s is out of date: run make docs", filepath.Base(g))
		}
	}
}
