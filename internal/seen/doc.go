// Package seen is a small local index of the content already uploaded, so
// that `uploads put --skip-existing` can tell that a file's bytes are on the
// server already without asking it.
//
// A record is keyed by the base URL, the purpose, the size and the MD5 (hex)
// of the content, and holds the file id the server gave, the filename it was
// uploaded under, when, and the local path it was last seen at. The base
// URL is stored without user information, query or fragment, with its scheme
// and host in lower case and no trailing slash, so that no credential is
// written to disk and "https://API.example.com/v1/" and
// "https://api.example.com/v1" are one server. MD5s are stored in lower case.
//
// # The index file
//
// The index is one file, FileName, in the directory given to Open (the
// journal directory), with mode 0600. It is not named *.json so that the
// journal's listing does not take it for a journal. It is a log in JSON
// Lines: a header line, then one line per change, oldest first:
//
//	{"version":2,"id":"QH3Z6GJ2XK4UQWJ7MZ5X2F3ZLE"}
//	{"base_url":"https://api.example.com/v1","purpose":"batch","size":5,"md5":"5d41…","file_id":"file-1","filename":"a.jsonl","uploaded_at":"2026-11-30T10:00:00Z","path":"data/a.jsonl"}
//	{"base_url":"https://api.example.com/v1","purpose":"batch","size":5,"md5":"5d41…","forget":true}
//
// A record line replaces any record of its key; a line with "forget" (a
// tombstone) drops it. The header holds the schema version, SchemaVersion,
// and a random id that is new each time the file is written whole, so that a
// reader can tell a file that only grew from a new one.
//
// Record and Forget take an exclusive lock on FileName+".lock"
// (github.com/gofrs/flock), read what other processes appended since they
// last looked, and append their line with O_APPEND (no fsync since
// 2026-12-02: the index is a cache that --skip-existing confirms with the
// server, and a lost record only means content uploaded again): a change costs
// the same whatever the size of the index, and several processes can record
// at once without losing each other's records. Lookup takes no lock: it reads
// the file again when its identity, size or modification time has changed
// (only the new bytes when it only grew), and otherwise answers from memory.
//
// A crash in the middle of an append leaves a last line without its newline.
// Readers ignore it; the next change, under the lock, cuts it off before
// appending, and says so once in Warnings. Any other line that cannot be
// read makes the file damaged (below).
//
// When the log holds more than 2 × MaxRecords lines, or when most of its
// lines are superseded records and tombstones, the change that finds it so
// rewrites it whole (internal/atomicfile, so a reader always sees the old
// file or the new) with only the newest MaxRecords live records by upload
// time (ties broken by key). So the file stays under about 5 MB, a change
// costs O(1) amortized (the rewrite, O(MaxRecords), comes at most once every
// MaxRecords changes), and between rewrites the index may answer from up to
// 2 × MaxRecords records.
//
// A file that cannot be read as an index (not JSON Lines, another schema
// version, a record without a file id or with a bad MD5) is not an error: it
// is renamed aside to FileName+".damaged-<UTC time>", the index starts empty,
// and a *DamagedError is kept for Warnings to return. Losing the index only
// means uploading again what it would have skipped. The index of schema
// version 1 (one JSON document, rewritten at each change) was never released
// and is treated so.
//
// # Performance
//
// Measured 2026-11-30 with Go 1.26.8 linux/amd64 on 2 vCPU AMD EPYC (nproc
// 2), virtio disk, on a shared machine busy with other work (load 4): the
// two versions run alternately, five times each (-benchtime 2s); median ms
// per operation, range in brackets. BenchmarkRecord records one of 100
// contents in turn on an index of 0, 1,000 or 10,000 records (so that the
// index keeps its size); BenchmarkCompact is the rewrite of a log of
// 2 × MaxRecords + 1 live records down to MaxRecords; BenchmarkOpen reads
// an index of MaxRecords records.
//
//	                                schema 1: rewrite     schema 2: append
//	                                the file per change   a line per change
//	BenchmarkRecord/existing=0        9.8 (2.9–19)          1.9 (1.7–2.7)
//	BenchmarkRecord/existing=1000    36   (19–48)           1.9 (1.3–2.0)
//	BenchmarkRecord/existing=10000  283   (132–341)         1.8 (1.0–2.3)
//	BenchmarkCompact                  -                   152   (51–208)
//	BenchmarkOpen                   116   (110–130)       111   (83–175)
//
// A change then cost one fsync whatever the size of the index (0.3–0.4 ms
// when the disk is quiet; 1–2 ms on a busy one), plus its share of the
// rewrite: 152 ms once every MaxRecords + 1 changes at most, about 15 µs
// each. The fsync is gone since: an append and the lock.
package seen
