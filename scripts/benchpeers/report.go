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
)

// reportOrder is the order of the tools' rows: uploads first, then the
// limits.
var reportOrder = []string{"put", "put-c4", "put-c16", "sdk", "curl", "md5sum", "read"}

// summary is the median time, CPU, server CPU, parts phase, tail and
// utilization of runs, and their largest peak RSS.
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
	}
	s.Elapsed = dur(func(r result) time.Duration { return r.Elapsed })
	s.CPU = dur(func(r result) time.Duration { return r.CPU })
	for _, r := range runs {
		s.PeakRSS = max(s.PeakRSS, r.PeakRSS)
		s.parts = max(s.parts, r.parts)
	}
	return s
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
		"utilization are medians, peak RSS the largest. Every ratio is of medians measured in this invocation.\n", c.runs)
	if c.has("files") {
		filesTables(&b, c, res)
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
		"connections × the per-connection cap).\n")
	for _, setting := range c.settings {
		fmt.Fprintf(b, "\n#### One file, %s\n\n", settingTitle(c, setting))
		b.WriteString("| size | tool | time | MiB/s | × SDK | CPU | CPU ÷ md5sum | peak RSS | server CPU | parts | parts phase + tail | utilization |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
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
				srv := ""
				if t.upload {
					srv = fmt.Sprintf("%.2f s", s.srvCPU.Seconds())
				}
				fmt.Fprintf(b, "| %s | `%s` | %.2f s | %.1f | %s | %.2f s | %s | %.1f MiB | %s | %s | %s | %s |\n",
					units.FormatSize(size), key, s.Elapsed.Seconds(), mibps(size, s.Elapsed), vsSDK, s.CPU.Seconds(), vsMD5,
					float64(s.PeakRSS)/mib, srv, parts, phase, util)
			}
		}
	}
}

func manyTables(b *strings.Builder, c *options, res *results) {
	total := int64(c.manyCount) * c.manySize
	fmt.Fprintf(b, "\n#### %d files of %s, %s\n\n", c.manyCount, units.FormatSize(c.manySize), settingTitle(c, "far"))
	b.WriteString("| tool | time | files/s | MiB/s | × SDK loop | CPU | peak RSS | server CPU |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
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
		fmt.Fprintf(b, "| %s | %.2f s | %.1f | %.1f | %s | %.2f s | %.1f MiB | %.2f s |\n", t.title(c), s.Elapsed.Seconds(),
			float64(c.manyCount)/s.Elapsed.Seconds(), mibps(total, s.Elapsed), vs, s.CPU.Seconds(), float64(s.PeakRSS)/mib, s.srvCPU.Seconds())
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
	}
	var goals []goal
	add := func(g *goal, where, value string, met bool) {
		g.any = true
		g.measured = append(g.measured, value+" ("+where+")")
		if !met {
			g.missed = append(g.missed, where)
		}
	}
	cpu := goal{name: fmt.Sprintf("client CPU ≤ %.1f × `md5sum`'s (defaults)", goalCPU)}
	rss := goal{name: fmt.Sprintf("peak RSS < %d MiB, any size (defaults)", goalRSS/mib)}
	speed := goal{name: fmt.Sprintf("≥ %.0fx the SDK's speed (defaults)", goalVsSDK)}
	util := goal{name: fmt.Sprintf("≥ %.0f %% of the opened connections' capacity while parts are in flight (defaults)", 100*goalUtilization)}
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
	}
	goals = append(goals, cpu, rss, speed, util)
	if jobs, ok := res.manyCell("far", "put-jobs"); ok {
		where := fmt.Sprintf("%d × %s", c.manyCount, units.FormatSize(c.manySize))
		speed := goal{name: fmt.Sprintf("many files: `--jobs %d` ≥ %.0fx the SDK loop", c.jobs, goalManyVsSDK)}
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
		if len(g.missed) > 0 {
			met = "**no**: not at " + strings.Join(g.missed, ", ")
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", g.name, strings.Join(g.measured, "; "), met)
	}
}
