package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uploads-dev/uploads/internal/units"
)

// The goals the far setting's figures are held against (from the issue).
const (
	goalCPU         = 1.3      // client CPU ≤ 1.3 × md5sum's
	goalRSS         = 32 * mib // peak RSS of one file, any size
	goalVsSDK       = 6.0      // defaults ≥ 6 × as fast as the SDK
	goalUtilization = 0.90     // of the opened connections' capacity
	goalManyVsSDK   = 10.0     // many files: --jobs ≥ 10 × the SDK loop
	goalManyRSS     = 48 * mib
	goalFloor       = 1.1       // client CPU ≤ 1.1 × (md5sum + curl sending the bytes) ...
	goalFloorSize   = 512 * mib // ... held at this size
)

// reportOrder is the order of the tools' rows: uploads first, then the
// limits.
var reportOrder = []string{"put", "put-c4", "put-c8", "put-c16", "sdk", "curl", "md5sum", "read"}

// summary is the median time, CPU, server CPU, parts phase, tail,
// utilization and curl's sending CPU of runs, and their largest peak RSS,
// parts and TCP connection counts.
func summary(runs []result) result {
	med := func(get func(result) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	dur := func(get func(result) time.Duration) time.Duration {
		return time.Duration(med(func(r result) float64 { return float64(get(r)) }))
	}
	s := result{
		srvCPU: dur(func(r result) time.Duration { return r.srvCPU }),
		phase:  dur(func(r result) time.Duration { return r.phase }),
		tail:   dur(func(r result) time.Duration { return r.tail }),
		util:   med(func(r result) float64 { return r.util }),
		// curlSend: 0 in every run but curl's.
		curlSend: dur(func(r result) time.Duration { return r.curlSend }),
	}
	s.Elapsed = dur(func(r result) time.Duration { return r.Elapsed })
	s.CPU = dur(func(r result) time.Duration { return r.CPU })
	for _, r := range runs {
		s.PeakRSS = max(s.PeakRSS, r.PeakRSS)
		s.parts = max(s.parts, r.parts)
		s.conns, s.connsSeen = max(s.conns, r.conns), max(s.connsSeen, r.connsSeen)
		s.connsOK = s.connsOK || r.connsOK
	}
	return s
}

// connsCell shows the TCP connections of an upload: the most at one time,
// and how many in all when more.
func connsCell(s result) string {
	switch {
	case !s.connsOK:
		return "n/a"
	case s.connsSeen > s.conns:
		return fmt.Sprintf("%d (%d in all)", s.conns, s.connsSeen)
	}
	return fmt.Sprint(s.conns)
}

// floor is a client's CPU floor on the file of size in setting: one MD5
// pass (md5sum's CPU) plus curl sending the bytes (the CPU of the curl
// processes of the script's parts step), medians of this invocation.
func (res *results) floor(setting string, size int64) (md5sum, curlSend time.Duration, ok bool) {
	md5, ok1 := res.cell(setting, size, "md5sum")
	curl, ok2 := res.cell(setting, size, "curl")
	if !ok1 || !ok2 || curl.curlSend <= 0 {
		return 0, 0, false
	}
	return md5.CPU, curl.curlSend, true
}

// cell is the summary of a files-scenario cell, and whether it was measured.
func (res *results) cell(setting string, size int64, tool string) (result, bool) {
	runs := res.files[cellKey{setting, size, tool}]
	if len(runs) == 0 {
		return result{}, false
	}
	return summary(runs), true
}

func (res *results) manyCell(setting, tool string) (result, bool) {
	runs := res.many[manyKey{setting, tool}]
	if len(runs) == 0 {
		return result{}, false
	}
	return summary(runs), true
}

// report renders the results as markdown.
func report(c *options, m machine, load string, res *results, took time.Duration) string {
	var b strings.Builder
	end, _ := loadAvg()
	fmt.Fprintf(&b, "Machine: %s; during the run %s; at the end %s.\n\n", m.line, load, end)
	fmt.Fprintf(&b, "Command: `go run ./scripts/benchpeers %s` (%s in all).\n\n", strings.Join(c.args, " "), took.Round(time.Second))
	fmt.Fprintf(&b, "%d run(s) of each tool, interleaved (each run goes once through the tools); time, CPU, parts phase and "+
		"utilization are medians, peak RSS and TCP connections the largest. Every ratio is of medians measured in this invocation.\n", c.runs)
	if c.tls {
		b.WriteString("\nProtocol: HTTPS in every setting, loopback included (for consistency): `uploads serve --tls`, its self-signed " +
			"certificate in DATA_DIR/tls/cert.pem, HTTP/2 and HTTP/1.1 offered by ALPN, as the real service's edge. `uploads` and `sdkput` " +
			"trust the certificate through SSL_CERT_FILE, curl through `--cacert` (the script's CA_CERT); each speaks what it chooses " +
			"(the TCP connections column shows how many the server held).\n")
	} else {
		b.WriteString("\nProtocol: plain HTTP in every setting (`--tls=false`, for comparison; the real service is reached over HTTPS).\n")
	}
	if c.uses("curl") && c.has("files") {
		fmt.Fprintf(&b, "\ncurl: %s, %s.\n", shortCurlVersion(c.curlVersion), curlHTTPNote(c.curlHTTP))
	}
	if c.has("files") {
		filesTables(&b, c, res)
		floorTables(&b, c, res)
	}
	if c.has("many") {
		manyTables(&b, c, res)
	}
	if c.inSetting("far") {
		goalsTable(&b, c, res)
	}
	return b.String()
}

func filesTables(b *strings.Builder, c *options, res *results) {
	b.WriteString("\nTools:\n\n")
	for _, key := range reportOrder {
		if c.uses(key) {
			fmt.Fprintf(b, "- `%s`: %s\n", key, toolByKey(key).label)
		}
	}
	b.WriteString("\nColumns: CPU is the tool's user + system time (for curl: of bash and every program it ran); " +
		"× SDK is the SDK's time over the tool's; CPU ÷ md5sum the tool's CPU over md5sum's on the same file; " +
		"parts: the file's parts / the connections opened (min(concurrency, parts)); parts phase: first part " +
		"started to last part acknowledged, then the tail to the completed file (the complete request, in " +
		"which the server reads the parts back for the MD5); utilization: file bytes / (parts phase × " +
		"connections × the per-connection cap) in far, file bytes / (parts phase × the link's cap) in link; TCP conns (max): " +
		"the most TCP connections the server held at one time during the upload, sampled every 100 ms from /proc/net/tcp " +
		"(with how many in all when more).\n")
	for _, setting := range c.settings {
		fmt.Fprintf(b, "\n#### One file, %s\n\n", settingTitle(c, setting))
		b.WriteString("| size | tool | time | MiB/s | × SDK | CPU | CPU ÷ md5sum | peak RSS | server CPU | TCP conns (max) | parts | parts phase + tail | utilization |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, size := range c.sizesOf(setting) {
			sdk, hasSDK := res.cell(setting, size, "sdk")
			md5, hasMD5 := res.cell(setting, size, "md5sum")
			for _, key := range reportOrder {
				s, ok := res.cell(setting, size, key)
				if !ok {
					continue
				}
				t := toolByKey(key)
				vsSDK, vsMD5, parts, phase, util := "", "", "", "", ""
				if t.upload && hasSDK {
					vsSDK = fmt.Sprintf("%.2fx", sdk.Elapsed.Seconds()/s.Elapsed.Seconds())
				}
				if hasMD5 && key != "read" {
					vsMD5 = fmt.Sprintf("%.2f", s.CPU.Seconds()/md5.CPU.Seconds())
				}
				if t.concurrency > 0 {
					parts = fmt.Sprintf("%d / %d", s.parts, min(s.parts, t.concurrency))
					phase = fmt.Sprintf("%.2f + %.2f s", s.phase.Seconds(), s.tail.Seconds())
					if s.util > 0 {
						util = fmt.Sprintf("%.0f %%", 100*s.util)
					}
				}
				srv, conns := "", ""
				if t.upload {
					srv, conns = fmt.Sprintf("%.2f s", s.srvCPU.Seconds()), connsCell(s)
				}
				fmt.Fprintf(b, "| %s | `%s` | %.2f s | %.1f | %s | %.2f s | %s | %.1f MiB | %s | %s | %s | %s | %s |\n",
					units.FormatSize(size), key, s.Elapsed.Seconds(), mibps(size, s.Elapsed), vsSDK, s.CPU.Seconds(), vsMD5,
					float64(s.PeakRSS)/mib, srv, conns, parts, phase, util)
			}
		}
	}
}

// shortCurlVersion keeps, of the first line of `curl -V`, curl's version
// and those of its TLS and HTTP/2 libraries.
func shortCurlVersion(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return strings.TrimSpace(line)
	}
	var libs []string
	for _, l := range f[2:] {
		if strings.HasPrefix(l, "OpenSSL/") || strings.HasPrefix(l, "GnuTLS/") || strings.HasPrefix(l, "nghttp2/") {
			libs = append(libs, l)
		}
	}
	if len(libs) == 0 {
		return f[0] + " " + f[1]
	}
	return f[0] + " " + f[1] + " (" + strings.Join(libs, ", ") + ")"
}

// curlHTTPNote says which HTTP version the curl tool spoke, and why.
func curlHTTPNote(v string) string {
	switch v {
	case "1.1":
		return "with `--http1.1` (the script's HTTP_VERSION=1.1; `--curl-http`): curl 7.88's HTTP/2 upload spins while a " +
			"stream's flow-control window is full, so against a throttled server its CPU is about its wall time (a 32 MiB " +
			"part at 10 MiB/s: 2.8 s of CPU over HTTP/2, 0.07 s over HTTP/1.1), not the cost of sending the bytes; " +
			"`uploads put` speaks HTTP/1.1 over TLS too"
	case "2":
		return "with `--http2` (`--curl-http 2`): its CPU over a throttled link includes its spinning on a full flow-control window"
	}
	return "with curl's own choice of HTTP version (`--curl-http auto`: HTTP/2 over TLS)"
}

// floorTables holds the CPU of each upload against the floor "md5sum +
// curl", in each setting where both were measured.
func floorTables(b *strings.Builder, c *options, res *results) {
	intro := false
	for _, setting := range c.settings {
		var rows []string
		for _, size := range c.sizesOf(setting) {
			md5, send, ok := res.floor(setting, size)
			if !ok {
				continue
			}
			fl := md5 + send
			for _, key := range []string{"put", "put-c4", "put-c8", "put-c16", "sdk", "curl"} {
				s, ok := res.cell(setting, size, key)
				if !ok {
					continue
				}
				rows = append(rows, fmt.Sprintf("| %s | `%s` | %.2f s | %.2f s | %.2f s | %.2f s | %.2f |", units.FormatSize(size), key,
					s.CPU.Seconds(), md5.Seconds(), send.Seconds(), fl.Seconds(), s.CPU.Seconds()/fl.Seconds()))
			}
		}
		if len(rows) == 0 {
			continue
		}
		if !intro {
			intro = true
			fmt.Fprintf(b, "\nThe CPU floor of a client, \"md5sum + curl\": one MD5 pass over the file (`md5sum FILE`'s CPU, the `md5sum` row) "+
				"plus curl sending the same bytes %s (the CPU of the curl processes of `scripts/curl-upload.sh`'s parts step, "+
				"from bash's `times` around it: each part one curl process, one connection%s). The script's split (which writes "+
				"the file a second time), its own md5sum and its create and complete requests are left out of the floor: they "+
				"are the recipe's costs, not the floor's. The `curl` row below is the whole script against that floor.\n",
				c.protocol(), map[bool]string{true: " and one TLS handshake", false: ""}[c.tls])
		}
		fmt.Fprintf(b, "\n#### Client CPU against the floor (md5sum + curl), %s\n\n", setting)
		b.WriteString("| size | tool | client CPU | `md5sum` CPU | curl sending the parts | floor | CPU ÷ floor |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		b.WriteString(strings.Join(rows, "\n") + "\n")
	}
}

func manyTables(b *strings.Builder, c *options, res *results) {
	total := int64(c.manyCount) * c.manySize
	fmt.Fprintf(b, "\n#### %d files of %s, %s\n\n", c.manyCount, units.FormatSize(c.manySize), settingTitle(c, "far"))
	b.WriteString("| tool | time | files/s | MiB/s | × SDK loop | CPU | peak RSS | server CPU | TCP conns (max) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	loop, hasLoop := res.manyCell("far", "sdk-loop")
	for _, t := range manyTools {
		s, ok := res.manyCell("far", t.key)
		if !ok {
			continue
		}
		vs := ""
		if hasLoop {
			vs = fmt.Sprintf("%.2fx", loop.Elapsed.Seconds()/s.Elapsed.Seconds())
		}
		fmt.Fprintf(b, "| %s | %.2f s | %.1f | %.1f | %s | %.2f s | %.1f MiB | %.2f s | %s |\n", t.title(c), s.Elapsed.Seconds(),
			float64(c.manyCount)/s.Elapsed.Seconds(), mibps(total, s.Elapsed), vs, s.CPU.Seconds(), float64(s.PeakRSS)/mib, s.srvCPU.Seconds(),
			connsCell(s))
	}
}

// goalsTable holds the far setting's figures of `uploads put` with its
// defaults against the goals.
func goalsTable(b *strings.Builder, c *options, res *results) {
	type goal struct {
		name     string
		measured []string
		missed   []string // where it is not met
		any      bool     // anything measured
		held     bool     // anything measured where the goal is held
		heldAt   string   // where it is held, if not at every size
	}
	var goals []goal
	add := func(g *goal, where, value string, met bool) {
		g.any, g.held = true, true
		g.measured = append(g.measured, value+" ("+where+")")
		if !met {
			g.missed = append(g.missed, where)
		}
	}
	info := func(g *goal, where, value string) { // measured where the goal is not held
		g.any = true
		g.measured = append(g.measured, value+" ("+where+", for information)")
	}
	cpu := goal{name: fmt.Sprintf("client CPU ≤ %.1f × `md5sum`'s (defaults)", goalCPU)}
	rss := goal{name: fmt.Sprintf("peak RSS < %d MiB, any size (defaults)", goalRSS/mib)}
	speed := goal{name: fmt.Sprintf("≥ %.0fx the SDK's speed (defaults)", goalVsSDK)}
	util := goal{name: fmt.Sprintf("≥ %.0f %% of the opened connections' capacity while parts are in flight (defaults)", 100*goalUtilization)}
	proto := "over TLS"
	if !c.tls {
		proto = "over plain HTTP (`--tls=false`; the goal is over TLS)"
	}
	floorGoal := goal{name: fmt.Sprintf("client CPU ≤ %.1f × (md5sum + curl %s), %s (defaults)", goalFloor, proto, units.FormatSize(goalFloorSize)),
		heldAt: units.FormatSize(goalFloorSize)}
	for _, size := range c.sizes {
		where := units.FormatSize(size)
		put, ok := res.cell("far", size, "put")
		if !ok {
			continue
		}
		if md5, ok := res.cell("far", size, "md5sum"); ok {
			r := put.CPU.Seconds() / md5.CPU.Seconds()
			add(&cpu, where, fmt.Sprintf("%.2f", r), r <= goalCPU)
		}
		add(&rss, where, fmt.Sprintf("%.1f MiB", float64(put.PeakRSS)/mib), put.PeakRSS < goalRSS)
		if sdk, ok := res.cell("far", size, "sdk"); ok {
			r := sdk.Elapsed.Seconds() / put.Elapsed.Seconds()
			add(&speed, where, fmt.Sprintf("%.2fx", r), r >= goalVsSDK)
		}
		add(&util, where, fmt.Sprintf("%.0f %%", 100*put.util), put.util >= goalUtilization)
		if md5, send, ok := res.floor("far", size); ok {
			r := put.CPU.Seconds() / (md5 + send).Seconds()
			if v := fmt.Sprintf("%.2f", r); size == goalFloorSize {
				add(&floorGoal, where, v, r <= goalFloor)
			} else {
				info(&floorGoal, where, v)
			}
		}
	}
	goals = append(goals, cpu, floorGoal, rss, speed, util)
	if jobs, ok := res.manyCell("far", "put-jobs"); ok {
		where := fmt.Sprintf("%d × %s", c.manyCount, units.FormatSize(c.manySize))
		how := "`uploads put` (defaults)"
		if c.jobs > 0 {
			how = fmt.Sprintf("`--jobs %d`", c.jobs)
		}
		speed := goal{name: fmt.Sprintf("many files: %s ≥ %.0fx the SDK loop", how, goalManyVsSDK)}
		if loop, ok := res.manyCell("far", "sdk-loop"); ok {
			r := loop.Elapsed.Seconds() / jobs.Elapsed.Seconds()
			add(&speed, where, fmt.Sprintf("%.2fx", r), r >= goalManyVsSDK)
		}
		rss := goal{name: fmt.Sprintf("many files: peak RSS < %d MiB", goalManyRSS/mib)}
		add(&rss, where, fmt.Sprintf("%.1f MiB", float64(jobs.PeakRSS)/mib), jobs.PeakRSS < goalManyRSS)
		goals = append(goals, speed, rss)
	}
	b.WriteString("\n#### Goals (far setting)\n\n| goal | measured | met |\n| --- | --- | --- |\n")
	for _, g := range goals {
		if !g.any {
			continue
		}
		met := "**yes**"
		switch {
		case !g.held:
			met = "not judged: it is held at " + g.heldAt + ", not measured here"
		case len(g.missed) > 0:
			met = "**no**: not at " + strings.Join(g.missed, ", ")
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", g.name, strings.Join(g.measured, "; "), met)
	}
}
