package upload

import "time"

// EventType names what happened.
type EventType string

// The events an upload reports, in the order they can happen.
const (
	EventStart       EventType = "start"        // the session is known (new or resumed)
	EventPartStarted EventType = "part_started" // an attempt at a part began
	EventPartDone    EventType = "part_done"    // the server acknowledged a part
	EventProgress    EventType = "progress"     // bytes moved (every half second while parts are in flight)
	EventRetry       EventType = "retry"        // a part failed and will be tried again
	EventWarning     EventType = "warning"      // something the user should know
	EventCompleted   EventType = "completed"    // the file exists
)

// Event is one progress report. Fields that do not apply are zero.
type Event struct {
	Type     EventType `json:"event"`
	File     string    `json:"file"`
	UploadID string    `json:"upload_id,omitempty"`
	FileID   string    `json:"file_id,omitempty"`
	// Part is 1-based; 0 when the event is not about one part.
	Part    int           `json:"part,omitempty"`
	Attempt int           `json:"attempt,omitempty"`
	Wait    time.Duration `json:"wait_ns,omitempty"`
	Error   string        `json:"error,omitempty"`
	// Reason is "stalled" on a retry of a part that was cut because its
	// bytes stopped moving (or its answer did not come).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Resumed is true on EventStart when a journal was used.
	Resumed bool `json:"resumed,omitempty"`
	// Progress at the time of the event: BytesDone are acknowledged by the
	// server; BytesSent adds the bytes of the parts in flight handed to
	// their connections so far.
	BytesDone  int64 `json:"bytes_done"`
	BytesSent  int64 `json:"bytes_sent"`
	BytesTotal int64 `json:"bytes_total"`
	PartsDone  int   `json:"parts_done"`
	PartsTotal int   `json:"parts_total"`
	Retries    int   `json:"retries"`
	// Stalls counts the retries that were stalls.
	Stalls int `json:"stalls,omitempty"`
}

// Reporter receives events. It is called from several goroutines, one event
// at a time, and must not block for long.
type Reporter func(Event)
