package server

import (
	"context"
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
	// Throttle caps each connection's upload rate in bytes per second; 0 is
	// no cap.
	Throttle int64
	// ReapInterval is how often expired uploads and files are swept.
	ReapInterval time.Duration
	// Ready is called once the server listens, with its base URL
	// (http://host:port/v1), or in Azure mode with the endpoint to give an
	// Azure client (http://host:port, which clients extend with /openai/…
	// themselves).
	Ready func(baseURL string)
}

// Run opens the data directory, serves the API until ctx ends, then shuts
// down gracefully (in-flight requests get a few seconds) and closes the store.
// The API's handler is wrapped, innermost first, in the injected faults and
// the latency; the listener in the throttle.
func Run(ctx context.Context, o Options) error {
	if o.ProcessFail != "" {
		if err := CheckProcessFail(o.ProcessFail); err != nil {
			return err
		}
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

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? try --addr 127.0.0.1:0 for a free port)", o.Addr, err)
	}
	if o.Throttle > 0 {
		ln = faults.ThrottleListener(ln, o.Throttle)
	}
	baseURL := "http://" + ln.Addr().String() + "/v1"
	if o.Azure {
		baseURL = "http://" + ln.Addr().String()
		srv.log.Info("listening", slog.String("azure_endpoint", baseURL), slog.String("data_dir", o.DataDir))
	} else {
		srv.log.Info("listening", slog.String("base_url", baseURL), slog.String("data_dir", o.DataDir))
	}

	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(srv.log.Handler(), slog.LevelWarn),
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
	go func() { serveErr <- hs.Serve(ln) }()
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
