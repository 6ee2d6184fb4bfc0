package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// curlSendCPU reads what scripts/curl-upload.sh appended to
// CURL_UPLOAD_TIMES (after each step its name, then bash's `times`: a line
// of the shell's own user and system time, a line of its children's) and
// returns the CPU time of the children during the parts step: the curl
// processes that sent the parts (each started from a command substitution,
// whose subshell execs curl), without the split before them nor the md5sum
// after.
func curlSendCPU(raw []byte) (time.Duration, error) {
	children := map[string]time.Duration{}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for i := 0; i+2 < len(lines); i += 3 {
		step := strings.TrimSpace(lines[i])
		d, err := timesLine(lines[i+2])
		if err != nil {
			return 0, fmt.Errorf("step %s: %w", step, err)
		}
		children[step] = d
	}
	split, ok1 := children["split"]
	parts, ok2 := children["parts"]
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("no split and parts steps in %q", raw)
	}
	if parts < split {
		return 0, errors.New("the children's CPU time went down between split and parts")
	}
	return parts - split, nil
}

// timesLine parses one line of bash's `times`: "0m1.234s 0m0.567s", user
// and system time, and returns their sum.
func timesLine(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) != 2 {
		return 0, fmt.Errorf("%q is not a line of bash's times", line)
	}
	var sum time.Duration
	for _, v := range f {
		m, s, ok := strings.Cut(strings.TrimSuffix(v, "s"), "m")
		mins, err1 := strconv.Atoi(m)
		secs, err2 := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
		if !ok || !strings.HasSuffix(v, "s") || err1 != nil || err2 != nil {
			return 0, fmt.Errorf("%q is not a line of bash's times", line)
		}
		sum += time.Duration(mins)*time.Minute + time.Duration(secs*float64(time.Second))
	}
	return sum, nil
}
