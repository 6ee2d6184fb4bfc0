package cli_test

import (
	"flag"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/uploads-dev/uploads/internal/cli"
	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/store"
	"github.com/uploads-dev/uploads/internal/units"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"uploads": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: each is a txtar file of
// commands and the output and exit status a user would see.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_DATA_HOME", env.WorkDir+"/xdg-data")
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/xdg-config")
			env.Setenv("XDG_STATE_HOME", env.WorkDir+"/xdg-state")
			env.Values[serverKey{}] = &serverSlot{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"serve":      cmdServe,
			"serve-stop": cmdServeStop,
		},
	})
}

type serverKey struct{}

// serverSlot holds the script's running server, if any.
type serverSlot struct {
	hs *httptest.Server
	st *store.Store
}

func slot(ts *testscript.TestScript) *serverSlot { return ts.Value(serverKey{}).(*serverSlot) }

// cmdServe starts the bundled server in-process on a loopback port and
// points the script at it: OPENAI_BASE_URL is its /v1 URL and OPENAI_API_KEY
// is sk-test (unless --api-key keys are configured). Flags:
//
//	serve [--data-dir DIR] [--api-key KEY[=ORG]]... [--upload-ttl D]
//	      [--max-part-size S] [--max-upload-size S] [--fault-rate R]
//	      [--fault-kinds K] [--fault-seed N] [--latency D] [--throttle S]
//
// The server stops at the end of the script or with serve-stop; a later
// serve with the same --data-dir finds the same state.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! serve")
	}
	if slot(ts).hs != nil {
		ts.Fatalf("a server is already running; serve-stop first")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "")
	var keys multiFlag
	fs.Var(&keys, "api-key", "")
	ttl := fs.Duration("upload-ttl", time.Hour, "")
	var maxPart, maxUpload, throttle units.Size
	fs.Var(&maxPart, "max-part-size", "")
	fs.Var(&maxUpload, "max-upload-size", "")
	fs.Var(&throttle, "throttle", "")
	rate := fs.Float64("fault-rate", 0, "")
	kinds := fs.String("fault-kinds", "500,503,429,drop", "")
	seed := fs.Uint64("fault-seed", 1, "")
	latency := fs.Duration("latency", 0, "")
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("serve: %v", err)
	}
	dir := *dataDir
	if dir == "" {
		dir = ts.MkAbs("server-data")
	} else {
		dir = ts.MkAbs(dir)
	}
	st, err := store.Open(dir, store.Options{})
	ts.Check(err)
	cfg := server.Config{Store: st, UploadTTL: *ttl, MaxPartSize: int64(maxPart), MaxUploadSize: int64(maxUpload), Latency: *latency}
	if len(keys) > 0 {
		cfg.Keys = map[string]string{}
		for _, k := range keys {
			key, org, ok := strings.Cut(k, "=")
			if !ok {
				org = server.OrgOf(key)
			}
			cfg.Keys[key] = org
		}
	}
	if *rate > 0 {
		k, err := faults.ParseKinds(*kinds)
		ts.Check(err)
		inj, err := faults.New(faults.Config{Rate: *rate, Kinds: k, Seed: *seed, RetryAfter: 50 * time.Millisecond})
		ts.Check(err)
		cfg.Faults = inj
	}
	hs := httptest.NewUnstartedServer(server.New(cfg))
	if throttle > 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		hs.Listener = faults.ThrottleListener(ln, int64(throttle))
	}
	hs.Start()
	slot(ts).hs, slot(ts).st = hs, st
	ts.Setenv("OPENAI_BASE_URL", hs.URL+"/v1")
	ts.Setenv("SERVER_URL", hs.URL)
	if len(keys) == 0 {
		ts.Setenv("OPENAI_API_KEY", "sk-test")
	}
	ts.Defer(func() { stopServer(ts) })
}

func cmdServeStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: serve-stop")
	}
	stopServer(ts)
}

func stopServer(ts *testscript.TestScript) {
	rs := slot(ts)
	if rs.hs == nil {
		return
	}
	rs.hs.CloseClientConnections()
	rs.hs.Close()
	_ = rs.st.Close()
	rs.hs, rs.st = nil, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
