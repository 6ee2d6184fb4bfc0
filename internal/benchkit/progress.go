package benchkit

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/uploads-dev/uploads/internal/config"
)

// Progress is what one file's `uploads put --progress json` reported on
// stderr (one JSON object a line, each with its "time").
type Progress struct {
	Start     time.Time // the "start" event: the session is known
	FirstPart time.Time // the first "part_started"
	LastPart  time.Time // the last "part_done"
	Completed time.Time // the "completed" event
	// Parts is the file's number of parts; MaxInFlight the most parts
	// started and not yet acknowledged at one time.
	Parts, MaxInFlight int
	Retries            int
}

// ParseProgress reads the events of one file's upload. ok is false unless
// it found a start, a part started, a part done and the completed file.
func ParseProgress(stderr []byte) (p Progress, ok bool) {
	inFlight := map[int]bool{}
	for line := range bytes.SplitSeq(stderr, []byte("\n")) {
		var e struct {
			Time       time.Time `json:"time"`
			Event      string    `json:"event"`
			Part       int       `json:"part"`
			PartsTotal int       `json:"parts_total"`
			Retries    int       `json:"retries"`
		}
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			continue
		}
		p.Parts = max(p.Parts, e.PartsTotal)
		p.Retries = max(p.Retries, e.Retries)
		switch e.Event {
		case "start":
			p.Start = e.Time
		case "part_started":
			if p.FirstPart.IsZero() {
				p.FirstPart = e.Time
			}
			inFlight[e.Part] = true
			p.MaxInFlight = max(p.MaxInFlight, len(inFlight))
		case "part_done":
			p.LastPart = e.Time
			delete(inFlight, e.Part)
		case "completed":
			p.Completed = e.Time
		}
	}
	ok = !p.Start.IsZero() && !p.FirstPart.IsZero() && !p.LastPart.IsZero() && !p.Completed.IsZero()
	return p, ok
}

// PartsPhase is the time from the first part started to the last part
// acknowledged: while parts are in flight.
func (p Progress) PartsPhase() time.Duration { return p.LastPart.Sub(p.FirstPart) }

// Tail is the time from the last part acknowledged to the completed file:
// the client's MD5 pass if it has not finished, then the complete request
// (in which the server checks the MD5).
func (p Progress) Tail() time.Duration { return p.Completed.Sub(p.LastPart) }

// Utilization is the share of the opened connections' capacity that the
// parts phase used: size / (PartsPhase × min(concurrency, Parts) ×
// perConn), perConn being each connection's cap in bytes per second.
func (p Progress) Utilization(size int64, concurrency int, perConn float64) float64 {
	conns := min(concurrency, p.Parts)
	d := p.PartsPhase().Seconds()
	if conns <= 0 || d <= 0 || perConn <= 0 {
		return 0
	}
	return float64(size) / (d * float64(conns) * perConn)
}

// LinkUtilization is the share of a link's capacity that the parts phase
// used when one cap, link bytes per second, is shared by every connection:
// size / (PartsPhase × link).
func (p Progress) LinkUtilization(size int64, link float64) float64 {
	d := p.PartsPhase().Seconds()
	if d <= 0 || link <= 0 {
		return 0
	}
	return float64(size) / (d * link)
}

// DefaultConcurrency is `uploads put`'s default --concurrency.
func DefaultConcurrency() int {
	for _, s := range config.Settings {
		if n, ok := s.Default.(int); ok && s.Key == "concurrency" {
			return n
		}
	}
	panic("config.Settings has no concurrency")
}
