package server

import (
	"fmt"
	"mime"
	"sort"
	"strings"
)

// Purposes maps each accepted purpose to the MIME types an upload of that
// purpose may declare.
type Purposes map[string][]string

// DefaultPurposes is the table the server starts with. `video` is an
// extension (the provider's seed); the rest follow OpenAI's documentation.
func DefaultPurposes() Purposes {
	docs := []string{
		"text/plain", "text/markdown", "text/html", "text/css", "text/javascript",
		"text/x-c", "text/x-c++", "text/x-csharp", "text/x-java", "text/x-php",
		"text/x-python", "text/x-script.python", "text/x-ruby", "text/x-tex",
		"application/json", "application/pdf", "application/msword",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/x-sh", "application/typescript",
	}
	lines := []string{"application/jsonl", "application/json", "text/jsonl", "application/x-ndjson", "text/plain"}
	return Purposes{
		"assistants": docs,
		"user_data":  docs,
		"batch":      lines,
		"fine-tune":  lines,
		"evals":      lines,
		"vision":     {"image/jpeg", "image/png", "image/webp", "image/gif"},
		"video":      {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/mpeg"},
	}
}

// Names lists the purposes, sorted.
func (p Purposes) Names() []string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Allow adds MIME types to a purpose, creating the purpose if it is new. The
// spec is PURPOSE=TYPE[,TYPE…], as the --allow-mime flag takes it.
func (p Purposes) Allow(spec string) error {
	name, types, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(types) == "" {
		return fmt.Errorf("%q is not PURPOSE=TYPE[,TYPE...] (for example video=video/x-flv)", spec)
	}
	for _, t := range strings.Split(types, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(t))
		if err != nil {
			return fmt.Errorf("%q in %q is not a MIME type: %v", t, spec, err)
		}
		p[name] = append(p[name], mt)
	}
	return nil
}

// allows reports whether purpose accepts the MIME type mt (parameters such as
// charset are ignored, case does not matter).
func (p Purposes) allows(purpose, mt string) bool {
	base, _, err := mime.ParseMediaType(mt)
	if err != nil {
		return false
	}
	for _, t := range p[purpose] {
		if strings.EqualFold(t, base) {
			return true
		}
	}
	return false
}
