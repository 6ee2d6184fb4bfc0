package cli_test

import (
	"bufio"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"flag"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
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
	// Under -race, every process sleeps 1s at exit (for late race reports)
	// unless told otherwise; the scripts run the binary hundreds of times.
	// testscript passes GORACE on to the commands it runs.
	if os.Getenv("GORACE") == "" {
		_ = os.Setenv("GORACE", "atexit_sleep_ms=10")
	}
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
			"exitcode":   cmdExitCode,
			"capture":    cmdCapture,
			"deadurl":    cmdDeadURL,
			"mkfile":     cmdMkfile,
			"append":     cmdAppend,
			"sleep":      cmdSleep,
		},
	})
}

type serverKey struct{}

// serverSlot holds the script's running server, if any.
type serverSlot struct {
	hs *httptest.Server
	st *store.Store
	// addr is the address of the last server, for serve --same-port.
	addr string
}

func slot(ts *testscript.TestScript) *serverSlot { return ts.Value(serverKey{}).(*serverSlot) }

// cmdServe starts the bundled server in-process on a loopback port and
// points the script at it: OPENAI_BASE_URL is its /v1 URL and OPENAI_API_KEY
// is sk-test (unless --api-key keys are configured). With --azure the server
// speaks the Azure OpenAI shape and the script gets AZURE_OPENAI_ENDPOINT
// (its http://127.0.0.1:PORT URL), OPENAI_API_VERSION=2025-04-01-preview and
// AZURE_OPENAI_API_KEY=sk-test (unless --api-key keys are configured)
// instead, and no OPENAI_BASE_URL (one left by an earlier serve is
// emptied, as an earlier --azure serve's AZURE_OPENAI_ENDPOINT is by a
// plain serve). SERVER_URL is http://127.0.0.1:PORT in both. Flags:
//
//	serve [--data-dir DIR] [--api-key KEY[=ORG]]... [--upload-ttl D]
//	      [--max-part-size S] [--max-upload-size S] [--strict] [--azure]
//	      [--fault-rate R] [--fault-kinds K] [--fault-on E] [--fault-seed N]
//	      [--latency D] [--throttle S]
//	      [--same-port]  (listen where the previous server did: the same base URL)
//	      [--tls]        (HTTPS with HTTP/2 offered, as the real service's edge:
//	                      SERVER_URL and the base URL are https://, SERVER_CA is
//	                      the PEM file of its certificate, and SSL_CERT_FILE
//	                      is set to it so that the client trusts it)
//
// The flags mean what `uploads serve`'s do; the faults, latency and throttle
// are composed around the API's handler as server.Run composes them.
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
	on := fs.String("fault-on", "parts", "")
	strict := fs.Bool("strict", false, "")
	azure := fs.Bool("azure", false, "")
	seed := fs.Uint64("fault-seed", 1, "")
	latency := fs.Duration("latency", 0, "")
	samePort := fs.Bool("same-port", false, "")
	useTLS := fs.Bool("tls", false, "")
	processDelay := fs.Duration("process-delay", 0, "")
	processFail := fs.String("process-fail", "", "")
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
	cfg := server.Config{Store: st, UploadTTL: *ttl, MaxPartSize: int64(maxPart), MaxUploadSize: int64(maxUpload), Strict: *strict,
		Azure: *azure, ProcessDelay: *processDelay, ProcessFail: *processFail}
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
	var h http.Handler = server.New(cfg)
	if *rate > 0 {
		k, err := faults.ParseKinds(*kinds)
		ts.Check(err)
		e, err := faults.ParseEndpoints(*on)
		ts.Check(err)
		inj, err := faults.New(faults.Config{Rate: *rate, Kinds: k, Endpoints: e, Seed: *seed, RetryAfter: 50 * time.Millisecond})
		ts.Check(err)
		h = inj.Wrap(h)
	}
	if *latency > 0 {
		h = faults.Latency(*latency, h)
	}
	hs := httptest.NewUnstartedServer(h)
	addr := "127.0.0.1:0"
	if *samePort && slot(ts).addr != "" {
		addr = slot(ts).addr // the same base URL, so that put resumes
	}
	ln, err := net.Listen("tcp", addr)
	ts.Check(err)
	if throttle > 0 {
		ln = faults.ThrottleListener(ln, int64(throttle))
	}
	_ = hs.Listener.Close()
	hs.Listener = ln
	if *useTLS {
		hs.EnableHTTP2 = true
		hs.StartTLS()
		ca := ts.MkAbs("server-ca.pem")
		ts.Check(os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600))
		ts.Setenv("SERVER_CA", ca)
		ts.Setenv("SSL_CERT_FILE", ca)
	} else {
		hs.Start()
	}
	slot(ts).hs, slot(ts).st, slot(ts).addr = hs, st, ln.Addr().String()
	ts.Setenv("SERVER_URL", hs.URL)
	if *azure {
		if ts.Getenv("OPENAI_BASE_URL") != "" {
			ts.Setenv("OPENAI_BASE_URL", "")
		}
		ts.Setenv("AZURE_OPENAI_ENDPOINT", hs.URL)
		ts.Setenv("OPENAI_API_VERSION", "2025-04-01-preview")
		if len(keys) == 0 {
			ts.Setenv("AZURE_OPENAI_API_KEY", "sk-test")
		}
	} else {
		if ts.Getenv("AZURE_OPENAI_ENDPOINT") != "" {
			ts.Setenv("AZURE_OPENAI_ENDPOINT", "")
		}
		ts.Setenv("OPENAI_BASE_URL", hs.URL+"/v1")
		if len(keys) == 0 {
			ts.Setenv("OPENAI_API_KEY", "sk-test")
		}
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

// cmdExitCode runs a program like exec and asserts its exact exit status
// (testscript's ! only asserts that it is not zero); stdout and stderr are
// kept for the stdout and stderr commands:
//
//	exitcode N PROGRAM [ARGS...]
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdCapture sets an environment variable from the last command's stdout:
// all of it, trimmed, or the first group of a regular expression.
//
//	capture NAME [REGEXP]
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: capture NAME [REGEXP]")
	}
	out := ts.ReadFile("stdout")
	v := strings.TrimSpace(out)
	if len(args) == 2 {
		m := regexp.MustCompile(args[1]).FindStringSubmatch(out)
		if len(m) < 2 {
			ts.Fatalf("capture: %q does not match stdout %q", args[1], out)
		}
		v = m[1]
	}
	if v == "" {
		ts.Fatalf("capture: stdout is empty")
	}
	ts.Setenv(args[0], v)
}

// cmdDeadURL sets an environment variable to the /v1 URL of a loopback port
// on which nothing listens (connections are refused at once):
//
//	deadurl NAME
func cmdDeadURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: deadurl NAME")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := ln.Addr().String()
	ts.Check(ln.Close())
	ts.Setenv(args[0], "http://"+addr+"/v1")
}

// cmdMkfile writes SIZE bytes (a size such as 3MiB) of a repeatable
// pseudo-random pattern to PATH:
//
//	mkfile PATH SIZE
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkfile PATH SIZE")
	}
	n, err := units.ParseSize(args[1])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	w := bufio.NewWriter(f)
	for i := int64(0); i < n; i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rng.Uint64())
		_, err = w.Write(b[:min(8, n-i)])
		ts.Check(err)
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}

// cmdAppend appends files (or "stdout", the last command's output) to DST:
//
//	append DST SRC...
func cmdAppend(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: append DST SRC...")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	ts.Check(err)
	for _, src := range args[1:] {
		_, err = f.WriteString(ts.ReadFile(src))
		ts.Check(err)
	}
	ts.Check(f.Close())
}

// cmdSleep waits, e.g. for an upload to expire:
//
//	sleep DURATION
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}
