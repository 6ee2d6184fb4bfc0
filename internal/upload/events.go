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
	EventWaiting     EventType = "waiting"      // complete, waiting for the file to be processed (put --wait; not emitted by the engine)
	EventSkipped     EventType = "skipped"      // not sent: the same content is on the server (RunBatch with SkipExisting)
	EventCompleted   EventType = "completed"    // the file exists
)

// Event is one progress report. Fields that do not apply are zero. (The
// command line renders events; its JSON form is docs/events.md.)
type Event struct {
	Type     EventType
	File     string
	UploadID string
	FileID   string
	// Part is 1-based; 0 when the event is not about one part.
	Part    int
	Attempt int
	Wait    time.Duration
	Error   string
	// Reason is "stalled" on a retry of a part that was cut because its
	// bytes stopped moving (or its answer did not come).
	Reason  string
	Message string
	// Resumed is true on EventStart when a journal was used.
	Resumed bool
	// Progress at the time of the event: BytesDone are the parts the server
	// acknowledged; BytesSent adds the bytes of the parts in flight that
	// the server has received, as closely as the system tells: on Linux
	// what its TCP stack acknowledged (TCP_INFO), elsewhere the bytes
	// handed to the connection less what its socket can hold (api.Wire).
	// Neither counts bytes still in the client's buffers.
	BytesDone  int64
	BytesSent  int64
	BytesTotal int64
	PartsDone  int
	PartsTotal int
	Retries    int
	// Stalls counts the retries that were stalls.
	Stalls int
}

// Reporter receives events, one at a time and in order (an upload of one
// file never calls it twice at once), from the upload's goroutines; it must
// not block for long.
type Reporter func(Event)
