package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/store"
)

// Options are everything `uploads serve` sets.
type Options struct {
	Config
	Addr    string // host:port; port 0 picks a free port
	DataDir string
	// Faults, when not nil, fails some requests on purpose (its Config
	// says which endpoints, how often and how).
	Faults *faults.Injector
	// Latency is added to every request before it is handled.
	Latency time.Duration
	// Throttle caps each TCP connection's upload rate in bytes per second
	// (every HTTP/2 stream on it shares the cap); 0 is no cap.
	Throttle int64
	// ThrottleLink caps the upload rate of all connections together, in
	// bytes per second, as one link; 0 is no cap.
	ThrottleLink int64
	// TLSCertFile and TLSKeyFile, when set (both), are the PEM certificate
	// and key to serve HTTPS with.
	TLSCertFile, TLSKeyFile string
	// TLSSelfSigned serves HTTPS with the self-signed certificate kept in
	// DataDir/tls (made, or remade, when it is missing, about to expire or
	// does not cover the names: the loopback names, Addr's host and
	// TLSHosts). TLSCertFile takes precedence.
	TLSSelfSigned bool
	// TLSHosts are more names (DNS names or IP addresses) the self-signed
	// certificate covers, for clients that reach the server by them.
	TLSHosts []string
	// ReapInterval is how often expired uploads and files are swept.
	ReapInterval time.Duration
	// Ready is called once the server listens, with its base URL
	// (http://host:port/v1), or in Azure mode with the endpoint to give an
	// Azure client (http://host:port, which clients extend with /openai/…
	// themselves); https:// with TLS.
	Ready func(baseURL string)
}

// Run opens the data directory, serves the API until ctx ends, then shuts
// down gracefully (in-flight requests get a few seconds) and closes the store.
// The API's handler is wrapped, innermost first, in the injected faults and
// the latency; the TCP listener in the throttle, and that in TLS (with
// HTTP/2 offered) when asked for, so that a throttled connection carries all
// of its HTTP/2 streams.
func Run(ctx context.Context, o Options) error {
	if o.ProcessFail != "" {
		if err := CheckProcessFail(o.ProcessFail); err != nil {
			return err
		}
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return errTLSPair
	}
	st, err := store.Open(o.DataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	o.Store = st
	srv := New(o.Config)
	var h http.Handler = srv
	if o.Faults != nil {
		h = o.Faults.Wrap(h)
	}
	if o.Latency > 0 {
		h = faults.Latency(o.Latency, h)
	}

	var tlsConfig *tls.Config
	if o.TLSCertFile != "" || o.TLSSelfSigned {
		if tlsConfig, err = o.tlsConfig(srv.log); err != nil {
			return err
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? try --addr 127.0.0.1:0 for a free port)", o.Addr, err)
	}
	if o.Throttle > 0 || o.ThrottleLink > 0 {
		ln = faults.NewThrottleListener(ln, faults.Throttle{PerConn: o.Throttle, Link: o.ThrottleLink})
	}
	scheme := "http://"
	if tlsConfig != nil {
		scheme = "https://"
	}
	baseURL := scheme + ln.Addr().String() + "/v1"
	if o.Azure {
		baseURL = scheme + ln.Addr().String()
		srv.log.Info("listening", slog.String("azure_endpoint", baseURL), slog.String("data_dir", o.DataDir))
	} else {
		srv.log.Info("listening", slog.String("base_url", baseURL), slog.String("data_dir", o.DataDir))
	}

	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(srv.log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
		HTTP2: &http.HTTP2Config{
			// Room in the connection's flow-control window for a few
			// streams whose bytes are not read (a stalled request holds
			// up to its stream's 1 MiB) besides the others' (net/http's
			// default, 1 MiB, is one stream's worth).
			MaxReceiveBufferPerConnection: 8 << 20,
		},
	}
	if o.ReapInterval <= 0 {
		o.ReapInterval = 30 * time.Second
	}
	reapDone := make(chan struct{})
	reapCtx, stopReaper := context.WithCancel(ctx)
	go func() {
		defer close(reapDone)
		srv.reapLoop(reapCtx, o.ReapInterval)
	}()

	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- hs.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	if o.Ready != nil {
		o.Ready(baseURL)
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		srv.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
		if err != nil {
			_ = hs.Close()
		}
	}
	stopReaper()
	<-reapDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) reapLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r, err := s.store.Reap()
		switch {
		case err != nil:
			s.log.Error("reaper", slog.String("err", err.Error()))
		case r.Uploads+r.Files > 0:
			s.log.Info("reaped", slog.Int("expired_uploads", r.Uploads), slog.Int("expired_files", r.Files))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
