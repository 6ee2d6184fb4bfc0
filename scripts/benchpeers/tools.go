package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/uploads-dev/uploads/internal/benchkit"
	"github.com/uploads-dev/uploads/internal/units"
)

// tool is one row of the files scenario.
type tool struct {
	key   string // its name in --tools
	label string // its row label
	// upload: it uploads the file and prints a file id.
	upload bool
	// concurrency is the parts `uploads put` keeps in flight; 0 for other
	// tools. Such a tool runs with --progress json, whose events give the
	// utilization.
	concurrency int
	// command returns the program and arguments that process path.
	command func(c *options, path string) (string, []string)
}

// putTool is `uploads put` with --concurrency n, or with its defaults when
// n is 0. --progress json changes only what it prints on stderr.
func putTool(key, label string, n int) tool {
	t := tool{key: key, label: label, upload: true, concurrency: n}
	if n == 0 {
		t.concurrency = benchkit.DefaultConcurrency()
	}
	t.command = func(c *options, path string) (string, []string) {
		args := []string{"put", path, "--purpose", purpose, "--progress", "json"}
		if n > 0 {
			args = append(args, "--concurrency", strconv.Itoa(n))
		}
		return c.uploads, args
	}
	return t
}

var tools = []tool{
	{key: "read", label: "limit: `cat FILE > /dev/null` (from the page cache)", command: func(_ *options, path string) (string, []string) {
		return "cat", []string{path}
	}},
	{key: "md5sum", label: "limit: `md5sum FILE` (one MD5 pass)", command: func(_ *options, path string) (string, []string) {
		return "md5sum", []string{path}
	}},
	{key: "sdk", label: "official Go SDK (`scripts/sdkput`: 64 MiB parts in memory, one at a time)", upload: true,
		command: func(c *options, path string) (string, []string) {
			return c.sdkput, sdkArgs(path)
		}},
	{key: "curl", label: "curl (`scripts/curl-upload.sh`: split, parts one at a time, each a new curl and connection, md5sum, complete; " +
		"over HTTPS each curl gets `--cacert` with the server's certificate, through the script's CA_CERT; the HTTP version: see below)", upload: true,
		command: func(c *options, path string) (string, []string) {
			return "bash", []string{c.curlScript, path, purpose, mimeType}
		}},
	putTool("put", fmt.Sprintf("`uploads put FILE --purpose video --progress json`: the defaults (`--concurrency %d`, "+
		"the part size chosen per file by `upload.PlanPartSize`)", benchkit.DefaultConcurrency()), 0),
	putTool("put-c4", "the same with `--concurrency 4`", 4),
	putTool("put-c8", "the same with `--concurrency 8`", 8),
	putTool("put-c16", "the same with `--concurrency 16`", 16),
}

// sdkArgs are sdkput's arguments for one file: 64 MiB parts, as the
// documentation's sequential recipe uses.
func sdkArgs(path string) []string {
	return []string{"--file", path, "--purpose", purpose, "--part-size", "64MiB", "--mime-type", mimeType}
}

// runOrder is the order in which the tools run for each size and setting:
// the plain read and md5sum first (they also bring the file into the page
// cache for everyone), then the uploads.
var runOrder = []string{"read", "md5sum", "sdk", "curl", "put", "put-c4", "put-c8", "put-c16"}

// defaultTools are the tools measured unless --tools says otherwise: all of
// them (curl gives the CPU floor's second half).
var defaultTools = []string{"read", "md5sum", "sdk", "curl", "put", "put-c4", "put-c8"}

func toolByKey(key string) tool {
	for _, t := range tools {
		if t.key == key {
			return t
		}
	}
	panic("unknown tool " + key)
}

// settingOrder lists the server's settings.
var settingOrder = []string{"far", "link", "loopback"}

// serverFlags are `uploads serve`'s flags in setting.
func serverFlags(c *options, setting string) []string {
	flags := []string{"--strict"}
	if c.tls {
		flags = append(flags, "--tls")
	}
	switch setting {
	case "far":
		flags = append(flags, "--latency", c.latency.String(), "--throttle", c.throttleArg)
	case "link":
		flags = append(flags, "--latency", c.latency.String(), "--throttle-link", c.linkThrottleArg)
	}
	return flags
}

// settingTitle describes setting for the report.
func settingTitle(c *options, setting string) string {
	cmd := "`uploads serve " + strings.Join(serverFlags(c, setting), " ") + "`"
	switch setting {
	case "far":
		return fmt.Sprintf("far: %s (%v added to every request, each TCP connection capped at %s/s, %s)",
			cmd, c.latency, units.FormatSize(c.throttle), c.protocol())
	case "link":
		return fmt.Sprintf("link: %s (%v added to every request, all connections together capped at %s/s, none on its own, %s)",
			cmd, c.latency, units.FormatSize(c.linkThrottle), c.protocol())
	}
	return fmt.Sprintf("loopback: %s (no cap; the two cores are the limit, %s)", cmd, c.protocol())
}

// protocol names what the clients speak to the server.
func (c *options) protocol() string {
	if c.tls {
		return "over HTTPS"
	}
	return "over plain HTTP"
}
