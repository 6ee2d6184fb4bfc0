package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/units"
)

// serveOptions are the flags of `uploads serve`.
type serveOptions struct {
	IO            IOStreams
	Addr          string
	DataDir       string
	APIKeys       []string
	UploadTTL     time.Duration
	MaxPartSize   units.Size
	MaxUploadSize units.Size
	AllowMIME     []string
	Quiet         bool
	LogFormat     string
	Strict        bool
	Azure         bool
	FaultRate     float64
	FaultKinds    string
	FaultOn       string
	FaultSeed     uint64
	Latency       time.Duration
	Throttle      units.Size
	ThrottleLink  units.Size
	TLS           bool
	TLSCert       string
	TLSKey        string
	TLSHosts      []string
	ReapInterval  time.Duration
	ProcessDelay  time.Duration
	ProcessFail   string
}

// defaultDataDir is $XDG_DATA_HOME/uploads, or ~/.local/share/uploads.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "uploads")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "uploads")
	}
	return "uploads-data"
}

// newServeCmd builds `uploads serve`.
func newServeCmd(stdio IOStreams) *cobra.Command {
	o := &serveOptions{IO: stdio, MaxPartSize: server.DefaultMaxPartSize, MaxUploadSize: server.DefaultMaxUploadSize}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Uploads and Files API locally, durably, on disk",
		Long: `Serve the OpenAI Uploads and Files API on a local address, with real state
kept durably in --data-dir, so that uploads, the official SDKs and your own
pipelines can be run and tested without the real service.

By default the server adds two extensions to the real service's API:
GET /v1/uploads/{id} and GET /v1/uploads/{id}/parts (used by
"uploads parts list" and to resume), and each part's bytes and md5 in part
objects. --strict leaves them out, to test a client against exactly what the
real service documents.

--azure serves the same API in the shape of an Azure OpenAI resource, to test
clients built for Azure: /openai/uploads... and /openai/files... with a dated
api-version query parameter (a missing one is 404), /openai/v1/... without
one, the key in an api-key header (or as a bearer token), Azure's error
bodies, and a file or part without a Content-Type refused; /v1/... is 404.
It combines with --strict.

--tls serves HTTPS, offering HTTP/2 and HTTP/1.1 by ALPN as the real
service's edge does, with a self-signed certificate kept in
DATA_DIR/tls/cert.pem (made at the first start, or when it nears its end or
lacks a name; it covers localhost, 127.0.0.1, ::1, the host of --addr and
each --tls-host). Clients trust it as a root: SSL_CERT_FILE=DATA_DIR/tls/cert.pem,
uploads --ca-cert DATA_DIR/tls/cert.pem, curl --cacert DATA_DIR/tls/cert.pem.
--tls-cert and --tls-key serve your own certificate and key instead.

--throttle caps each TCP connection (every HTTP/2 stream on it shares the
cap); --throttle-link caps all connections together, as one link.

The base URL (http://ADDR/v1, or https://ADDR/v1 with TLS) is printed on
stdout once the server listens, or with --azure the endpoint to give an
Azure client (http://ADDR, as AZURE_OPENAI_ENDPOINT); the request log goes
to stderr. SIGINT or SIGTERM stops it gracefully.`,
		Example: `  uploads serve
  uploads serve --addr 127.0.0.1:0 --data-dir /tmp/uploads-data
  uploads serve --strict
  uploads serve --azure --api-key azure-test-key
  uploads serve --api-key sk-test=org-a --api-key sk-other=org-b
  uploads serve --fault-rate 0.3 --fault-seed 7 --throttle 40MiB
  uploads serve --throttle 40MiB --throttle-link 100MiB
  uploads serve --tls --addr 127.0.0.1:0 --data-dir /tmp/uploads-data
  uploads serve --tls --tls-host uploads.test --tls-host 192.0.2.7
  uploads serve --tls-cert cert.pem --tls-key key.pem
  uploads serve --fault-rate 0.2 --fault-kinds lost --fault-on parts,complete
  uploads serve --process-delay 5s --process-fail 'bad-*'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8089", "address to listen on (port 0 picks a free port)")
	f.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "directory for the server's records and bytes")
	f.StringArrayVar(&o.APIKeys, "api-key", nil, "accept only this key (KEY or KEY=ORG; repeatable); with none, any key is accepted as its own organization")
	f.DurationVar(&o.UploadTTL, "upload-ttl", server.DefaultUploadTTL, "how long an upload session accepts parts")
	f.Var(&o.MaxPartSize, "max-part-size", "largest part accepted")
	f.Var(&o.MaxUploadSize, "max-upload-size", "largest upload accepted (bytes declared, and bytes received)")
	f.StringArrayVar(&o.AllowMIME, "allow-mime", nil, "also accept these MIME types for a purpose, adding the purpose if new (PURPOSE=TYPE[,TYPE...]; repeatable)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "do not write the request log")
	f.StringVar(&o.LogFormat, "log-format", "text", "request log format: text or json")
	f.BoolVar(&o.Strict, "strict", false, "offer only the real service's documented API: no GET /v1/uploads/{id} or GET /v1/uploads/{id}/parts, no bytes or md5 in part objects")
	f.BoolVar(&o.Azure, "azure", false, "serve the Azure OpenAI shape instead: /openai/... with api-version and /openai/v1/..., the api-key header, Azure's errors; print the endpoint http://ADDR")
	f.Float64Var(&o.FaultRate, "fault-rate", 0, "fail this fraction (0..1) of the requests to the --fault-on endpoints on purpose")
	f.StringVar(&o.FaultKinds, "fault-kinds", "500,503,429,drop", "kinds of injected fault: any of 500, 503, 429, drop, lost (handled, then the answer is never sent), stall (the first MiB read, then no reading and no answer, as a dead path)")
	f.StringVar(&o.FaultOn, "fault-on", "parts", "endpoints the faults apply to: any of create, parts, complete, cancel")
	f.Uint64Var(&o.FaultSeed, "fault-seed", 1, "seed for the fault decisions, for reproducible runs")
	f.DurationVar(&o.Latency, "latency", 0, "delay added to every request (e.g. 50ms)")
	f.Var(&o.Throttle, "throttle", "cap each TCP connection's upload rate, in bytes per second (e.g. 40MiB); HTTP/2 streams on one connection share it")
	f.Var(&o.ThrottleLink, "throttle-link", "cap the upload rate of all connections together, in bytes per second (e.g. 100MiB), as one link; combines with --throttle")
	f.BoolVar(&o.TLS, "tls", false, "serve HTTPS (HTTP/2 and HTTP/1.1) with a self-signed certificate kept in DATA_DIR/tls/cert.pem, for clients to trust")
	f.StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key)")
	f.StringVar(&o.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringArrayVar(&o.TLSHosts, "tls-host", nil, "another DNS name or IP address for the self-signed certificate to cover (repeatable; implies --tls)")
	f.DurationVar(&o.ReapInterval, "reap-interval", 30*time.Second, "how often expired uploads and files are swept")
	f.DurationVar(&o.ProcessDelay, "process-delay", 0, `how long a new file's status stays "uploaded" before it is "processed" (0: processed at once)`)
	f.StringVar(&o.ProcessFail, "process-fail", "", `files whose filename matches this glob (path.Match: *, ?, [a-z]) end in status "error", with status_details, instead of "processed"`)
	return cmd
}

// serverOptions checks the flags and turns them into server.Options.
func (o *serveOptions) serverOptions() (server.Options, error) {
	so := server.Options{Addr: o.Addr, DataDir: o.DataDir, Throttle: int64(o.Throttle), ReapInterval: o.ReapInterval}
	if o.DataDir == "" {
		return so, usagef(fmt.Errorf("--data-dir is empty: give a directory for the server's data"))
	}
	if o.UploadTTL <= 0 {
		return so, usagef(fmt.Errorf("--upload-ttl %v must be positive, such as 1h", o.UploadTTL))
	}
	if o.MaxPartSize <= 0 || o.MaxUploadSize <= 0 {
		return so, usagef(fmt.Errorf("--max-part-size and --max-upload-size must be positive sizes, such as 64MiB and 8GiB"))
	}
	if o.ReapInterval <= 0 {
		return so, usagef(fmt.Errorf("--reap-interval %v must be positive, such as 30s", o.ReapInterval))
	}
	if o.Latency < 0 {
		return so, usagef(fmt.Errorf("--latency %v must not be negative", o.Latency))
	}
	so.UploadTTL, so.MaxPartSize, so.MaxUploadSize, so.Latency = o.UploadTTL, int64(o.MaxPartSize), int64(o.MaxUploadSize), o.Latency
	so.Strict, so.Azure = o.Strict, o.Azure
	if o.ProcessDelay < 0 {
		return so, usagef(fmt.Errorf("--process-delay %v must not be negative", o.ProcessDelay))
	}
	if err := server.CheckProcessFail(o.ProcessFail); o.ProcessFail != "" && err != nil {
		return so, usagef(fmt.Errorf("--process-fail: %w", err))
	}
	so.ProcessDelay, so.ProcessFail = o.ProcessDelay, o.ProcessFail
	so.ThrottleLink = int64(o.ThrottleLink)
	if err := o.tlsOptions(&so); err != nil {
		return so, err
	}
	so.Purposes = server.DefaultPurposes()
	for _, spec := range o.AllowMIME {
		if err := so.Purposes.Allow(spec); err != nil {
			return so, usagef(fmt.Errorf("--allow-mime: %w", err))
		}
	}
	if len(o.APIKeys) > 0 {
		so.Keys = map[string]string{}
		for _, k := range o.APIKeys {
			key, orgName, hasOrg := strings.Cut(k, "=")
			if key == "" || (hasOrg && orgName == "") {
				return so, usagef(fmt.Errorf("--api-key needs KEY or KEY=ORG with neither part empty"))
			}
			if !hasOrg {
				orgName = server.OrgOf(key)
			}
			so.Keys[key] = orgName
		}
	}
	kinds, err := faults.ParseKinds(o.FaultKinds)
	if err != nil {
		return so, usagef(fmt.Errorf("--fault-kinds: %w", err))
	}
	on, err := faults.ParseEndpoints(o.FaultOn)
	if err != nil {
		return so, usagef(fmt.Errorf("--fault-on: %w", err))
	}
	switch {
	case o.Quiet:
		so.Logger = slog.New(slog.DiscardHandler)
	case o.LogFormat == "json":
		so.Logger = slog.New(slog.NewJSONHandler(o.IO.Err, nil))
	case o.LogFormat == "text":
		so.Logger = slog.New(slog.NewTextHandler(o.IO.Err, nil))
	default:
		return so, usagef(fmt.Errorf("--log-format %q: expected text or json", o.LogFormat))
	}
	if o.FaultRate != 0 {
		inj, err := faults.New(faults.Config{Rate: o.FaultRate, Kinds: kinds, Endpoints: on, Seed: o.FaultSeed, Logger: so.Logger})
		if err != nil {
			return so, usagef(fmt.Errorf("--fault-rate: %w", err))
		}
		so.Faults = inj
	}
	return so, nil
}

// tlsOptions checks the TLS flags and sets them in so: the given pair must
// be readable and match; --tls-host names must be DNS names or IPs.
func (o *serveOptions) tlsOptions(so *server.Options) error {
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return usagef(fmt.Errorf("--tls-cert and --tls-key go together: give the certificate and its key, or neither (--tls makes a self-signed pair)"))
	}
	if o.TLSCert != "" {
		if len(o.TLSHosts) > 0 {
			return usagef(fmt.Errorf("--tls-host names the self-signed certificate's hosts: it does not apply to --tls-cert"))
		}
		certPEM, err := os.ReadFile(o.TLSCert)
		if err != nil {
			return usagef(fmt.Errorf("--tls-cert: %w", err))
		}
		keyPEM, err := os.ReadFile(o.TLSKey)
		if err != nil {
			return usagef(fmt.Errorf("--tls-key: %w", err))
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			return usagef(fmt.Errorf("--tls-cert %s and --tls-key %s are not a usable PEM certificate and its key: %w", o.TLSCert, o.TLSKey, err))
		}
		so.TLSCertFile, so.TLSKeyFile = o.TLSCert, o.TLSKey
		return nil
	}
	for _, h := range o.TLSHosts {
		if err := server.CheckTLSHost(h); err != nil {
			return usagef(fmt.Errorf("--tls-host: %w", err))
		}
	}
	so.TLSSelfSigned, so.TLSHosts = o.TLS || len(o.TLSHosts) > 0, o.TLSHosts
	return nil
}

func runServe(ctx context.Context, o *serveOptions) error {
	so, err := o.serverOptions()
	if err != nil {
		return err
	}
	so.Ready = func(baseURL string) {
		fmt.Fprintln(o.IO.Out, baseURL)
		if so.TLSSelfSigned && so.TLSCertFile == "" {
			// Said even with --quiet (which silences the request log): a
			// client cannot reach the server without it.
			cert := server.SelfSignedCertPath(so.DataDir)
			notef(o.IO.Err, "serving HTTPS with a self-signed certificate; clients trust it with --ca-cert %[1]s, UPLOADS_CA_CERT=%[1]s or SSL_CERT_FILE=%[1]s (curl: --cacert %[1]s)", cert)
		}
	}
	return server.Run(ctx, so)
}
