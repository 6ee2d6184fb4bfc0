package main

import (
	"strings"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/benchkit"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.sizes) != 4 || len(c.loopbackSizes) != 1 || c.runs != 3 || c.latency != 20*time.Millisecond ||
		c.throttle != 20<<20 || c.manyCount != 200 || c.manySize != 1<<20 || c.jobs != 8 {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.allSizes(); len(got) != 4 || got[3] != 1<<30 {
		t.Errorf("allSizes() = %v, want the four far sizes (the loopback size is one of them)", got)
	}
	for _, bad := range [][]string{
		{"--sizes", "lots"},
		{"--settings", "moon"},
		{"--tools", "put,scp"},
		{"--scenarios", "some"},
		{"--many", "200"},
		{"--many", "x1MiB"},
		{"--runs", "0"},
		{"--throttle", "fast"},
		{"--settings", "loopback"}, // many needs far
		{"extra"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) = nil error", bad)
		}
	}
	if _, err := parseFlags([]string{"--settings", "loopback", "--scenarios", "files"}); err != nil {
		t.Errorf("loopback files only: %v", err)
	}
}

func TestReport(t *testing.T) {
	c, err := parseFlags([]string{"--sizes", "512MiB", "--tools", "md5sum,sdk,put", "--runs", "1", "--settings", "far"})
	if err != nil {
		t.Fatal(err)
	}
	const size = 512 << 20
	run := func(elapsed, cpu time.Duration, rss int64) result {
		return result{Usage: benchkit.Usage{Elapsed: elapsed, CPU: cpu, PeakRSS: rss}}
	}
	put := run(4*time.Second, 1200*time.Millisecond, 20<<20)
	put.parts, put.phase, put.util = 8, 3500*time.Millisecond, 0.914
	res := &results{
		files: map[cellKey][]result{
			{"far", size, "md5sum"}: {run(time.Second, time.Second, 2<<20)},
			{"far", size, "sdk"}:    {run(26*time.Second, 2*time.Second, 270<<20)},
			{"far", size, "put"}:    {put},
		},
		many: map[manyKey][]result{
			{"far", "sdk-loop"}: {run(20*time.Second, 4*time.Second, 16<<20)},
			{"far", "put-jobs"}: {run(2500*time.Millisecond, 2*time.Second, 26<<20)},
		},
	}
	out := report(c, machine{line: "test machine"}, "1.00", res, time.Minute)
	for _, want := range []string{
		"| 512 MiB | `put` | 4.00 s | 128.0 | 6.50x | 1.20 s | 1.20 | 20.0 MiB |",
		"| 8 / 8 | 3.50 + 0.00 s | 91 % |",
		"| client CPU ≤ 1.3 × `md5sum`'s (defaults) | 1.20 (512 MiB) | **yes** |",
		"| ≥ 6x the SDK's speed (defaults) | 6.50x (512 MiB) | **yes** |",
		"| 91 % (512 MiB) | **yes** |",
		"| many files: `--jobs 8` ≥ 10x the SDK loop | 8.00x (200 × 1.0 MiB) | **no**: not at 200 × 1.0 MiB |",
		"| many files: peak RSS < 48 MiB | 26.0 MiB (200 × 1.0 MiB) | **yes** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}
