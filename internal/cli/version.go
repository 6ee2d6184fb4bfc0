package cli

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// build is what --version and `uploads version` say of the binary.
type build struct {
	Version, Commit, Date string
}

func (b build) String() string {
	return fmt.Sprintf("uploads %s (commit %s, built %s)", b.Version, b.Commit, b.Date)
}

// buildInfo is the version, commit and date set with -ldflags at release
// time (make build, goreleaser); each one -ldflags did not set comes from
// what the go command recorded in the binary, as `go build` and `go install
// …@version` record it: the module's version, and the VCS revision and
// commit time (with -dirty when the tree had changes).
var buildInfo = sync.OnceValue(func() build {
	info, _ := debug.ReadBuildInfo()
	return resolveBuild(build{Version, Commit, Date}, info)
})

// resolveBuild fills the fields of b left at their defaults ("dev", "none",
// "unknown") from info, when it has them.
func resolveBuild(b build, info *debug.BuildInfo) build {
	if info == nil {
		return b
	}
	if b.Version == "dev" {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
	}
	var rev, at string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if b.Commit == "none" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		b.Commit = rev
	}
	if b.Date == "unknown" && at != "" {
		b.Date = at
	}
	return b
}
