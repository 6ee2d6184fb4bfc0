package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/uploads-dev/uploads/internal/config"
)

// IOStreams is where a command reads and writes, and what those streams are:
// whether stdout and stderr are terminals, and stderr's width in columns.
// Commands decide from these fields, never from the streams themselves, so
// that a test can give them any answer.
type IOStreams struct {
	In       io.Reader
	Out, Err io.Writer
	// OutTTY and ErrTTY report whether stdout and stderr are terminals;
	// ErrTTY, one that takes ANSI escape sequences (on Windows, a console
	// whose virtual terminal processing could not be turned on is not one:
	// progress is then plain lines).
	OutTTY, ErrTTY bool
	// Width is stderr's width in columns; 0 when it is not a terminal.
	Width int
}

// systemIO is the process's standard streams, as they are.
func systemIO() IOStreams {
	s := IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())), ErrTTY: term.IsTerminal(int(os.Stderr.Fd()))}
	if s.ErrTTY && !enableANSI(os.Stderr) {
		s.ErrTTY = false
	}
	if s.ErrTTY {
		if cols, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && cols > 0 {
			s.Width = cols
		}
	}
	return s
}

// ErrWidth is stderr's width in columns, 80 when it is unknown.
func (s IOStreams) ErrWidth() int {
	if s.Width > 0 {
		return s.Width
	}
	return 80
}

// export is the one way commands write data to stdout, in cfg's format.
func (s IOStreams) export(cfg config.Config) exporter {
	return exporter{w: s.Out, text: cfg.Format == "text", indent: s.OutTTY}
}

// exporter writes API objects to stdout: JSON (indented on a terminal, one
// line otherwise) or, in the text format, what the command's text function
// makes of them.
type exporter struct {
	w      io.Writer
	text   bool
	indent bool
}

// object writes one object; text (nil when there is no text form) gives
// the text format.
func (e exporter) object(raw json.RawMessage, text func() string) error {
	if e.text && text != nil {
		_, err := fmt.Fprintln(e.w, text())
		return err
	}
	if !e.indent {
		return e.line(raw)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	_, err := fmt.Fprintf(e.w, "%s\n", b)
	return err
}

// line writes one object as one line of JSON, whatever stdout is: the form
// of a stream of objects (JSON Lines).
func (e exporter) line(raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b, _ := json.Marshal(v)
	_, err := fmt.Fprintf(e.w, "%s\n", b)
	return err
}
