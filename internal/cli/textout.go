package cli

import (
	"io"
	"sync"
	"time"

	"github.com/uploads-dev/uploads/internal/upload"
)

// textOut is what the two text printers (the live view and plain lines)
// share: the run's model, the lines waiting to be printed, and the
// goroutine that renders on the printer's rhythm — every tick, and at once
// when a line is waiting. The engine's goroutines only record (observe,
// post): nothing is written under the engine's locks.
type textOut struct {
	model *runModel
	w     io.Writer
	// render writes the pending lines and the progress; it is called with
	// mu held, by the loop, and by above, summary and close.
	render func(final bool)

	mu      sync.Mutex // the output
	pmu     sync.Mutex // pending
	pending []func(w io.Writer)
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	stop    sync.Once
	looping bool // start ran (tests render by hand instead)
}

func newTextOut(w io.Writer, m *runModel) *textOut {
	return &textOut{model: m, w: w, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// start runs the render loop every tick until close.
func (t *textOut) start(every time.Duration) {
	t.looping = true
	go func() {
		defer close(t.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-t.quit:
				return
			case <-tick.C:
			case <-t.wake:
			}
			t.mu.Lock()
			t.render(false)
			t.mu.Unlock()
		}
	}()
}

// halt stops the loop, if it runs, and waits for it.
func (t *textOut) halt() {
	if !t.looping {
		return
	}
	t.stop.Do(func() { close(t.quit) })
	<-t.done
}

// post queues a line (its writer runs at the next render) and wakes the
// loop.
func (t *textOut) post(write func(w io.Writer)) {
	t.pmu.Lock()
	t.pending = append(t.pending, write)
	t.pmu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// flush writes the pending lines; the caller holds mu.
func (t *textOut) flush() {
	t.pmu.Lock()
	p := t.pending
	t.pending = nil
	t.pmu.Unlock()
	for _, write := range p {
		write(t.w)
	}
}

// observe is the upload.Reporter of the text printers: the model records
// the event, and the lines it makes are queued.
func (t *textOut) observe(e upload.Event, line func(e upload.Event) string) {
	t.model.observe(e)
	if s := line(e); s != "" {
		t.post(func(w io.Writer) { _, _ = io.WriteString(w, s+"\n") })
	}
}
