package main

import (
	"slices"
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
	if !slices.Equal(c.sizes, []int64{256 << 20, 512 << 20, 1 << 30}) || len(c.loopbackSizes) != 1 || c.runs != 3 ||
		c.latency != 20*time.Millisecond || c.throttle != 10<<20 || c.linkThrottle != 80<<20 || !c.tls ||
		c.manyCount != 200 || c.manySize != 1<<20 || c.jobs != 0 || !slices.Equal(c.settings, []string{"far", "loopback"}) ||
		!c.uses("curl") || c.curlHTTP != "1.1" {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.allSizes(); len(got) != 3 || got[2] != 1<<30 {
		t.Errorf("allSizes() = %v, want the three far sizes (the loopback size is one of them)", got)
	}
	if got, want := serverFlags(c, "far"), []string{"--strict", "--tls", "--latency", "20ms", "--throttle", "10MiB"}; !slices.Equal(got, want) {
		t.Errorf("far: %q, want %q", got, want)
	}
	if got, want := serverFlags(c, "loopback"), []string{"--strict", "--tls"}; !slices.Equal(got, want) {
		t.Errorf("loopback: %q, want %q", got, want)
	}
	c, err = parseFlags([]string{"--settings", "far,link", "--tls=false", "--link-throttle", "40MiB", "--loopback-sizes", "2GiB", "--curl-http", "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := serverFlags(c, "link"), []string{"--strict", "--latency", "20ms", "--throttle-link", "40MiB"}; !slices.Equal(got, want) {
		t.Errorf("link without TLS: %q, want %q", got, want)
	}
	if got := c.allSizes(); len(got) != 3 || c.linkThrottle != 40<<20 || c.curlHTTP != "" {
		t.Errorf("allSizes() = %v (link measures --sizes, loopback is not measured), link throttle %d", got, c.linkThrottle)
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
		{"--link-throttle", "0"},
		{"--tls", "maybe"},
		{"--curl-http", "3"},
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
	c, err := parseFlags([]string{"--sizes", "256MiB,512MiB", "--tools", "md5sum,sdk,curl,put", "--runs", "1", "--settings", "far,link"})
	if err != nil {
		t.Fatal(err)
	}
	const size = 512 << 20
	run := func(elapsed, cpu time.Duration, rss int64) result {
		return result{Usage: benchkit.Usage{Elapsed: elapsed, CPU: cpu, PeakRSS: rss}}
	}
	put := run(4*time.Second, 1200*time.Millisecond, 20<<20)
	put.parts, put.phase, put.util = 8, 3500*time.Millisecond, 0.914
	put.conns, put.connsSeen, put.connsOK = 8, 8, true
	sdk := run(26*time.Second, 2*time.Second, 270<<20)
	sdk.conns, sdk.connsSeen, sdk.connsOK = 1, 1, true
	curl := run(30*time.Second, 2500*time.Millisecond, 8<<20)
	curl.curlSend, curl.conns, curl.connsSeen, curl.connsOK = 100*time.Millisecond, 1, 10, true
	small := run(2*time.Second, 1500*time.Millisecond, 20<<20) // 256 MiB: more CPU than the floor, for information
	small.connsOK = false
	linkPut := put
	linkPut.util = 0.5
	res := &results{
		files: map[cellKey][]result{
			{"far", size, "md5sum"}:      {run(time.Second, time.Second, 2<<20)},
			{"far", size, "sdk"}:         {sdk},
			{"far", size, "curl"}:        {curl},
			{"far", size, "put"}:         {put},
			{"far", size / 2, "md5sum"}:  {run(time.Second, 500*time.Millisecond, 2<<20)},
			{"far", size / 2, "curl"}:    {curl},
			{"far", size / 2, "put"}:     {small},
			{"link", size, "put"}:        {linkPut},
			{"link", size / 2, "md5sum"}: {run(time.Second, 500*time.Millisecond, 2<<20)},
		},
		many: map[manyKey][]result{
			{"far", "sdk-loop"}: {run(20*time.Second, 4*time.Second, 16<<20)},
			{"far", "put-jobs"}: {run(2500*time.Millisecond, 2*time.Second, 26<<20)},
		},
	}
	c.curlVersion = "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13 nghttp2/1.52.0"
	out := report(c, machine{line: "test machine"}, "1.00", res, time.Minute)
	if strings.Contains(out, "Client CPU against the floor (md5sum + curl), link") {
		t.Error("a floor table for link, where curl was not measured")
	}
	for _, want := range []string{
		"| 512 MiB | `put` | 4.00 s | 128.0 | 6.50x | 1.20 s | 1.20 | 20.0 MiB | 0.00 s | 8 | 8 / 8 | 3.50 + 0.00 s | 91 % |",
		"| 512 MiB | `sdk` | 26.00 s | 19.7 | 1.00x | 2.00 s | 2.00 | 270.0 MiB | 0.00 s | 1 |  |  |  |",
		"| 512 MiB | `curl` | 30.00 s | 17.1 | 0.87x | 2.50 s | 2.50 | 8.0 MiB | 0.00 s | 1 (10 in all) |  |  |  |",
		"| 256 MiB | `put` | 2.00 s | 128.0 |  | 1.50 s | 3.00 | 20.0 MiB | 0.00 s | n/a |",
		"#### One file, link: `uploads serve --strict --tls --latency 20ms --throttle-link 80MiB`",
		"| 512 MiB | `put` | 4.00 s | 128.0 |  | 1.20 s |  | 20.0 MiB | 0.00 s | 8 | 8 / 8 | 3.50 + 0.00 s | 50 % |",
		"#### Client CPU against the floor (md5sum + curl), far",
		"curl: curl 7.88.1 (OpenSSL/3.0.19, nghttp2/1.52.0), with `--http1.1`",
		"| 512 MiB | `put` | 1.20 s | 1.00 s | 0.10 s | 1.10 s | 1.09 |",
		"| 512 MiB | `curl` | 2.50 s | 1.00 s | 0.10 s | 1.10 s | 2.27 |",
		"| client CPU ≤ 1.3 × `md5sum`'s (defaults) | 3.00 (256 MiB); 1.20 (512 MiB) | **no**: not at 256 MiB |",
		"| client CPU ≤ 1.1 × (md5sum + curl over TLS), 512 MiB (defaults) | 2.50 (256 MiB, for information); 1.09 (512 MiB) | **yes** |",
		"| ≥ 6x the SDK's speed (defaults) | 6.50x (512 MiB) | **yes** |",
		"| 0 % (256 MiB); 91 % (512 MiB) | **no**: not at 256 MiB |",
		"| many files: `uploads put` (defaults) ≥ 10x the SDK loop | 8.00x (200 × 1.0 MiB) | **no**: not at 200 × 1.0 MiB |",
		"| 2.00 s | 26.0 MiB | 0.00 s | n/a |",
		"| many files: peak RSS < 48 MiB | 26.0 MiB (200 × 1.0 MiB) | **yes** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestCurlSendCPU(t *testing.T) {
	raw := []byte(`create
0m0.003s 0m0.001s
0m0.010s 0m0.005s
split
0m0.004s 0m0.001s
0m0.110s 0m0.305s
parts
0m0.020s 0m0.010s
1m1.110s 0m0.555s
md5
0m0.020s 0m0.010s
1m2.110s 0m0.555s
`)
	got, err := curlSendCPU(raw)
	if want := 61250 * time.Millisecond; err != nil || got != want {
		t.Errorf("curlSendCPU = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "split\n0m0.0s 0m0.0s\n0m0.1s 0m0.1s\n", "split\na b\nc d\nparts\ne f\ng h\n",
		"split\n0m0.0s 0m0.0s\n0m1.0s 0m0.0s\nparts\n0m0.0s 0m0.0s\n0m0.5s 0m0.0s\n"} {
		if _, err := curlSendCPU([]byte(bad)); err == nil {
			t.Errorf("curlSendCPU(%q) = nil error", bad)
		}
	}
}
