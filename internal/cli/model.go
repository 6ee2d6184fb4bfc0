package cli

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/uploads-dev/uploads/internal/upload"
)

// runModel is the one model of a put run's progress: each file's state and
// bytes, and the total, fed by the engine's events (observe) and the
// run's outcomes (fail). The rates and times left are computed here, once;
// the text printers only render what view returns, on their own rhythm.
//
// Bytes count what the server has: the acknowledged parts and, of the parts
// in flight, what the engine reports as received (upload.Event.BytesSent).
type runModel struct {
	mu    sync.Mutex
	now   func() time.Time
	order map[string]int // a file's place in the run (its arguments' order)
	files map[string]*fileModel
	// nfiles and total are the files this attempt sends and their bytes;
	// ended counts those that completed or failed (not those interrupted).
	nfiles int
	total  int64
	ended  int
	// sent and start sum the files' sent and atStart (kept as they change:
	// an event must not cost a walk over every file of a large run).
	sent, start int64
	rate        meter // of the bytes sent by this attempt, all files
}

// fileState is where a file of the run stands.
type fileState int

const (
	fileSending fileState = iota
	fileCompleted
	fileFailed
	fileInterrupted
)

type fileModel struct {
	path     string
	state    fileState
	uploadID string
	size     int64
	parts    int
	// partsDone and done are the acknowledged parts and their bytes; sent
	// adds what the server has of the parts in flight. atStart is what a
	// resume found on the server.
	partsDone             int
	done, sent, atStart   int64
	retries, stalls       int
	started               time.Time
	fileID                string
	rate                  meter
	keptParts, totalParts int  // after an interruption: what its journal keeps
	shown                 bool // ended, and given to the printers once (view)
}

// newRunModel is the model of a run that sends the files at paths (in the
// run's order), total bytes in all.
func newRunModel(paths []string, total int64) *runModel {
	m := &runModel{now: time.Now, order: make(map[string]int, len(paths)), files: map[string]*fileModel{}, nfiles: len(paths), total: total}
	for i, p := range paths {
		m.order[p] = i
	}
	return m
}

// observe records an engine event.
func (m *runModel) observe(e upload.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	f := m.files[e.File]
	if e.Type == upload.EventSkipped {
		m.skipLocked(e.File, e.BytesTotal)
		return
	}
	if e.Type == upload.EventStart {
		if f == nil {
			f = &fileModel{path: e.File, started: now, atStart: e.BytesDone}
			m.files[e.File] = f
			m.start += f.atStart
			if _, ok := m.order[e.File]; !ok {
				m.order[e.File] = len(m.order)
			}
		}
		f.state = fileSending
	}
	if f == nil || e.BytesTotal == 0 && e.PartsTotal == 0 {
		return // not about a file's bytes (a warning before it starts)
	}
	f.uploadID = e.UploadID
	f.size, f.parts, f.partsDone = e.BytesTotal, e.PartsTotal, e.PartsDone
	f.done = e.BytesDone
	m.setSent(f, max(e.BytesSent, e.BytesDone))
	f.retries, f.stalls = e.Retries, e.Stalls
	if e.Type == upload.EventCompleted {
		f.state, f.fileID = fileCompleted, e.FileID
		f.done, f.partsDone = f.size, f.parts
		m.setSent(f, f.size)
		m.ended++
	}
	f.rate.add(now, f.sent-f.atStart)
	m.rate.add(now, m.sent-m.start)
}

// setSent sets f's bytes on the server, and the run's sum with them.
func (m *runModel) setSent(f *fileModel, n int64) {
	m.sent += n - f.sent
	f.sent = n
}

// fail records a file of size bytes that did not complete. An interrupted file keeps
// what its journal saved: its bytes fall back to the acknowledged parts.
func (m *runModel) fail(file string, size int64, err error, interrupted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[file]
	if f == nil {
		f = &fileModel{path: file, started: m.now(), size: size}
		m.files[file] = f
		f.state = fileSending
	}
	if f.state == fileSending && !interrupted {
		m.ended++
		// What a failed file did not send is no longer to be sent by
		// this run: the total keeps only what it sent.
		m.total -= f.size - f.sent
	}
	f.state = fileFailed
	if interrupted {
		f.state = fileInterrupted
		f.keptParts, f.totalParts = f.partsDone, f.parts
		var fe *upload.FailedError
		if errors.As(err, &fe) {
			f.keptParts, f.totalParts = fe.PartsDone, fe.Parts
			if !fe.Kept {
				f.keptParts = 0
			}
		}
		switch {
		case f.keptParts == 0:
			f.done = 0
		case f.keptParts < f.partsDone:
			// The last acknowledgement may not be journaled yet.
			f.done = f.done / int64(f.partsDone) * int64(f.keptParts)
		}
		f.partsDone = f.keptParts
		m.setSent(f, f.done)
	}
}

// skipLocked takes a file that is not sent after all out of the run's files and
// total.
func (m *runModel) skipLocked(file string, size int64) {
	if _, started := m.files[file]; started {
		return
	}
	m.nfiles--
	m.total -= size
}

// fileView is a file as the printers show it.
type fileView struct {
	path, uploadID, fileID string
	state                  fileState
	parts, partsDone       int
	sent, size, atStart    int64
	keptParts, totalParts  int
	retries, stalls        int
	took                   time.Duration
	rate                   float64       // bytes a second lately; 0 while not known
	eta                    time.Duration // -1 while not known
}

// runView is the run as the printers show it: the files started (in the
// run's order) and the total.
type runView struct {
	files              []fileView
	nfiles, ended      int
	sent, total, start int64 // start: bytes already on the server when their files started
	rate               float64
	eta                time.Duration
}

// view is the model now: the files in flight or interrupted, and those
// that ended since the last view (each ended file is in one view only, so
// that a run of many files does not cost a walk over all of them at each
// redraw), in the run's order, and the total.
func (m *runModel) view() runView {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	v := runView{nfiles: m.nfiles, ended: m.ended, total: m.total, sent: m.sent, start: m.start}
	for _, f := range m.files {
		if f.shown {
			continue
		}
		if f.state == fileCompleted || f.state == fileFailed {
			f.shown = true
		}
		v.files = append(v.files, f.viewAt(now))
	}
	slices.SortFunc(v.files, func(a, b fileView) int { return m.order[a.path] - m.order[b.path] })
	v.rate = m.rate.rate(now)
	v.eta = eta(v.rate, v.total-v.sent)
	return v
}

// file is one file's view (it does not count as its one view).
func (m *runModel) file(path string) (fileView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[path]
	if !ok {
		return fileView{}, false
	}
	return f.viewAt(m.now()), true
}

func (f *fileModel) viewAt(now time.Time) fileView {
	fv := fileView{path: f.path, uploadID: f.uploadID, fileID: f.fileID, state: f.state, parts: f.parts, partsDone: f.partsDone,
		sent: f.sent, size: f.size, atStart: f.atStart, keptParts: f.keptParts, totalParts: f.totalParts,
		retries: f.retries, stalls: f.stalls, took: now.Sub(f.started), eta: -1}
	if f.state == fileSending {
		fv.rate = f.rate.rate(now)
		fv.eta = eta(fv.rate, f.size-f.sent)
	}
	return fv
}

// eta is the time left for left bytes at rate, -1 while the rate is not
// known.
func eta(rate float64, left int64) time.Duration {
	if rate <= 0 {
		return -1
	}
	return time.Duration(float64(max(left, 0)) / rate * float64(time.Second))
}

// rateWindow is how far back the rates shown look: recent enough to follow
// a link that slows down, long enough not to jump with each part.
const rateWindow = 10 * time.Second

// minRateWindow is how much time must have been seen before a rate (and so
// a time left) means something.
const minRateWindow = time.Second

// sample is the bytes sent at a time.
type sample struct {
	at    time.Time
	bytes int64
}

// meter is a moving-window rate.
type meter struct{ samples []sample }

// meterStep is the least time between two samples a meter keeps: a run
// of small files reports thousands of events a second.
const meterStep = 100 * time.Millisecond

// add records bytes sent by now.
func (m *meter) add(now time.Time, bytes int64) {
	if n := len(m.samples); n > 0 && m.samples[n-1].at.Equal(now) || n > 1 && now.Sub(m.samples[n-2].at) < meterStep {
		m.samples[n-1] = sample{now, bytes}
	} else {
		m.samples = append(m.samples, sample{now, bytes})
	}
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) >= rateWindow {
		m.samples = m.samples[1:]
	}
}

// rate is the rate over the window up to now, or 0 while less than
// minRateWindow has been seen. A window with no new bytes lately slows
// the rate down: now, not the last sample, ends it.
func (m *meter) rate(now time.Time) float64 {
	if len(m.samples) == 0 {
		return 0
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	dt := now.Sub(first.at)
	if dt < minRateWindow {
		return 0
	}
	return float64(last.bytes-first.bytes) / dt.Seconds()
}
