package benchkit

import (
	"math"
	"testing"
	"time"
)

func TestParseProgress(t *testing.T) {
	// Two connections, three parts: part 3 starts when part 1 is done; a
	// retry of part 2 starts it again; a summary and other lines are
	// ignored.
	stderr := []byte(`uploads: not JSON
{"time":"2026-11-29T10:00:00Z","event":"start","parts_total":3}
{"time":"2026-11-29T10:00:00.1Z","event":"part_started","part":1,"parts_total":3}
{"time":"2026-11-29T10:00:00.1Z","event":"part_started","part":2,"parts_total":3}
{"time":"2026-11-29T10:00:01.1Z","event":"part_done","part":1,"parts_total":3}
{"time":"2026-11-29T10:00:01.1Z","event":"part_started","part":3,"parts_total":3}
{"time":"2026-11-29T10:00:01.2Z","event":"retry","part":2,"parts_total":3,"retries":1}
{"time":"2026-11-29T10:00:01.3Z","event":"part_started","part":2,"attempt":2,"parts_total":3,"retries":1}
{"time":"2026-11-29T10:00:02.1Z","event":"part_done","part":3,"parts_total":3,"retries":1}
{"time":"2026-11-29T10:00:02.3Z","event":"part_done","part":2,"parts_total":3,"retries":1}
{"time":"2026-11-29T10:00:02.8Z","event":"completed","file_id":"file-1","parts_total":3,"retries":1}
{"time":"2026-11-29T10:00:02.9Z","event":"summary","files":1,"completed":1}
`)
	p, ok := ParseProgress(stderr)
	if !ok {
		t.Fatal("ParseProgress: not ok")
	}
	if p.Parts != 3 || p.MaxInFlight != 2 || p.Retries != 1 {
		t.Errorf("parts %d, max in flight %d, retries %d; want 3, 2, 1", p.Parts, p.MaxInFlight, p.Retries)
	}
	if got, want := p.PartsPhase(), 2200*time.Millisecond; got != want {
		t.Errorf("PartsPhase = %v, want %v", got, want)
	}
	if got, want := p.Tail(), 500*time.Millisecond; got != want {
		t.Errorf("Tail = %v, want %v", got, want)
	}
	// 44 bytes in 2.2 s over min(8, 3) = 3 connections of 10 bytes/s: 2/3.
	if got := p.Utilization(44, 8, 10); math.Abs(got-2.0/3) > 1e-9 {
		t.Errorf("Utilization = %v, want 2/3", got)
	}
	if got := p.Utilization(44, 2, 10); math.Abs(got-1) > 1e-9 {
		t.Errorf("Utilization with 2 connections = %v, want 1", got)
	}
	if got := p.Utilization(44, 2, 0); got != 0 {
		t.Errorf("Utilization without a cap = %v, want 0", got)
	}
	// 44 bytes in 2.2 s over one link of 40 bytes/s: 1/2.
	if got := p.LinkUtilization(44, 40); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("LinkUtilization = %v, want 1/2", got)
	}
	if got := p.LinkUtilization(44, 0); got != 0 {
		t.Errorf("LinkUtilization without a cap = %v, want 0", got)
	}
}

func TestParseProgressIncomplete(t *testing.T) {
	for _, stderr := range []string{
		"",
		`{"time":"2026-11-29T10:00:00Z","event":"start","parts_total":1}`,
		`{"time":"2026-11-29T10:00:00Z","event":"start","parts_total":1}
{"time":"2026-11-29T10:00:00.1Z","event":"part_started","part":1,"parts_total":1}
{"time":"2026-11-29T10:00:01Z","event":"part_done","part":1,"parts_total":1}`,
	} {
		if _, ok := ParseProgress([]byte(stderr)); ok {
			t.Errorf("ParseProgress(%q) is ok, want not ok", stderr)
		}
	}
}

func TestDefaultConcurrency(t *testing.T) {
	if n := DefaultConcurrency(); n < 1 {
		t.Errorf("DefaultConcurrency() = %d", n)
	}
}
