// Package benchkit is the plumbing shared by the end-to-end benchmarks: a real
// uploads serve process, test files, content checks, children run under GNU
// time for their rusage, and the progress events of `uploads put`.
//
// It is used by internal/bench (testing.B benchmarks) and scripts/benchpeers
// (the peers' comparison); every function reports failures as errors, and
// each program decides what a failure means to it.
package benchkit

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// CleanEnv is this process's environment less anything that would change
// what a child measures: API settings (OPENAI_*), the tool's settings and
// journals (UPLOADS_*, XDG_*), Go's GC and scheduler tuning (GOGC,
// GOMEMLIMIT, GOMAXPROCS, GODEBUG), the certificates a client trusts
// (SSL_CERT_FILE, SSL_CERT_DIR, CURL_CA_BUNDLE: see Server.TrustEnv), and
// the variables named in drop. The caller appends its own XDG directories
// and settings.
func CleanEnv(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "OPENAI_"), strings.HasPrefix(k, "UPLOADS_"), strings.HasPrefix(k, "XDG_"),
			k == "GOGC", k == "GOMEMLIMIT", k == "GOMAXPROCS", k == "GODEBUG",
			k == "SSL_CERT_FILE", k == "SSL_CERT_DIR", k == "CURL_CA_BUNDLE":
			continue
		}
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return env
}

// MakeFile writes size pseudo-random bytes (ChaCha8 with a fixed seed:
// incompressible, not zeros, the same on every run) to path, creating or
// truncating it, fsynced so that its writeback does not overlap the
// measurements, and returns their MD5 in hex. The file stays in the page
// cache, so every tool reads it hot.
func MakeFile(path string, size int64) (md5hex string, err error) {
	return MakeFileSeeded(path, size, 0)
}

// MakeFileSeeded is MakeFile with other bytes for each seed (seed 0 gives
// MakeFile's).
func MakeFileSeeded(path string, size int64, seed uint64) (md5hex string, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	key := [32]byte{'b', 'e', 'n', 'c', 'h', 'p', 'e', 'e', 'r', 's'}
	binary.LittleEndian.PutUint64(key[24:], seed)
	rng := rand.NewChaCha8(key)
	h := md5.New()
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		_, _ = rng.Read(chunk)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			return "", err
		}
		left -= int64(len(chunk))
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

// Server is a running `uploads serve` process.
type Server struct {
	// BaseURL is the API's base URL: http://127.0.0.1:PORT/v1, or
	// https://127.0.0.1:PORT/v1 when the server was started with --tls.
	BaseURL string
	// Port is the port it listens on, on 127.0.0.1.
	Port int
	// CACert is, over HTTPS, the certificate a client must trust: the
	// self-signed one `uploads serve --tls` writes to DATA_DIR/tls/cert.pem.
	// "" over plain HTTP.
	CACert string

	client *http.Client // trusts CACert; keeps no idle connection
	cmd    *exec.Cmd
	stderr *TailBuffer
	done   chan struct{}
}

// StartServer runs `bin serve --addr 127.0.0.1:0 --data-dir dataDir --quiet
// flags...` with the environment env, reads its base URL from the first line
// of its stdout (http:// or, with --tls among flags, https://), and waits
// until its /healthz answers (30s at most for each); over HTTPS it trusts
// dataDir/tls/cert.pem, the server's self-signed certificate, and only it.
// Cancelling ctx stops the server (SIGTERM, then SIGKILL after 10s); so does
// Stop, which the caller must call once it is done with the server.
//
// The Server's own requests (CheckContentFile, Delete, ...) use a client that
// keeps no idle connection, so that between them the server holds only the
// connections of the programs being measured (see SampleConns).
func StartServer(ctx context.Context, bin, dataDir string, env []string, flags ...string) (*Server, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--quiet"}, flags...)...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	s := &Server{cmd: cmd, stderr: &TailBuffer{Max: 64 << 10}, done: make(chan struct{})}
	line := make(chan string, 1)
	cmd.Stdout, cmd.Stderr = &firstLine{line: line}, s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	fail := func(format string, a ...any) (*Server, error) {
		s.Stop()
		return nil, fmt.Errorf("uploads serve: "+format+"; stderr:\n%s", append(a, s.stderr)...)
	}
	select {
	case s.BaseURL = <-line:
	case <-time.After(30 * time.Second):
		return fail("no base URL on stdout in 30s")
	case <-ctx.Done():
		return fail("%v before it printed its base URL", ctx.Err())
	}
	scheme, port, ok := parseBaseURL(s.BaseURL)
	if !ok {
		return fail("printed %q, want http://127.0.0.1:PORT/v1 or https://127.0.0.1:PORT/v1", s.BaseURL)
	}
	s.Port = port
	tr := &http.Transport{DisableKeepAlives: true}
	if scheme == "https" {
		s.CACert = filepath.Join(dataDir, "tls", "cert.pem")
	}
	s.client = &http.Client{Transport: tr}
	health := strings.TrimSuffix(s.BaseURL, "/v1") + "/healthz"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var status int
		err := s.trust(tr)
		if err == nil {
			status, err = s.do(ctx, http.MethodGet, health, "", io.Discard)
		}
		if err == nil && status == http.StatusOK {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fail("GET %s: not ready after 30s (status %d, %v)", health, status, err)
		}
	}
}

// parseBaseURL splits http(s)://127.0.0.1:PORT/v1 into its scheme and port.
func parseBaseURL(u string) (scheme string, port int, ok bool) {
	scheme, rest, ok := strings.Cut(u, "://127.0.0.1:")
	if !ok || (scheme != "http" && scheme != "https") {
		return "", 0, false
	}
	p, ok := strings.CutSuffix(rest, "/v1")
	if !ok {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, false
	}
	return scheme, port, true
}

// trust makes tr trust s.CACert and only it, once (nothing over HTTP).
func (s *Server) trust(tr *http.Transport) error {
	if s.CACert == "" || tr.TLSClientConfig != nil {
		return nil
	}
	pem, err := os.ReadFile(s.CACert)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", s.CACert)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return nil
}

// TrustEnv is what a Go child's environment needs to trust the server: over
// HTTPS, SSL_CERT_FILE=CACert (Go's rule on Linux, which uploads and sdkput
// follow); nothing over HTTP. curl does not read SSL_CERT_FILE: give it
// --cacert CACert.
func (s *Server) TrustEnv() []string {
	if s.CACert == "" {
		return nil
	}
	return []string{"SSL_CERT_FILE=" + s.CACert}
}

// Stop ends the server (SIGTERM, then SIGKILL after 10s) and waits for it.
// It may be called more than once.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Stderr is the last 64 KiB the server wrote to its stderr.
func (s *Server) Stderr() string { return s.stderr.String() }

// CPU is the server process's CPU time so far (user + system), from
// /proc/PID/stat; 0 where there is no /proc.
func (s *Server) CPU() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// After the command name (in parentheses, may hold spaces): state is
	// field 3, utime 14, stime 15, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100
}

// CheckContentFile streams the content of the file fileID from the server
// (GET /v1/files/{id}/content with apiKey) and fails unless it is, byte for
// byte, the file at path. It needs no hashing, so it costs a fraction
// of the time of ContentMD5.
func (s *Server) CheckContentFile(ctx context.Context, apiKey, fileID, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	cw := &compareWriter{src: src, buf: make([]byte, 1<<20)}
	status, err := s.do(ctx, http.MethodGet, s.BaseURL+"/files/"+fileID+"/content", apiKey, cw)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("read %s back: status %d, %v", fileID, status, err)
	}
	if n, _ := src.Read(cw.buf[:1]); n > 0 {
		return fmt.Errorf("the server's content of %s is %d bytes, shorter than %s", fileID, cw.n, path)
	}
	return nil
}

// compareWriter fails a write whose bytes differ from src's next bytes.
type compareWriter struct {
	src *os.File
	buf []byte
	n   int64
}

func (c *compareWriter) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		chunk := c.buf[:min(len(c.buf), len(p)-done)]
		n, err := io.ReadFull(c.src, chunk)
		if !bytes.Equal(chunk[:n], p[done:done+n]) || err != nil {
			return done, fmt.Errorf("the server's content differs from %s after byte %d (or is longer)", c.src.Name(), c.n)
		}
		done += n
		c.n += int64(n)
	}
	return len(p), nil
}

// ContentMD5 streams the content of the file fileID from the server (GET
// /v1/files/{id}/content with apiKey) and returns its MD5 (hex) and length.
func (s *Server) ContentMD5(ctx context.Context, apiKey, fileID string) (md5hex string, n int64, err error) {
	h := md5.New()
	cw := &countWriter{w: h}
	status, err := s.do(ctx, http.MethodGet, s.BaseURL+"/files/"+fileID+"/content", apiKey, cw)
	if err != nil || status != http.StatusOK {
		return "", 0, fmt.Errorf("read %s back: status %d, %v", fileID, status, err)
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

// Delete deletes the file fileID from the server (DELETE /v1/files/{id} with
// apiKey), to free its disk.
func (s *Server) Delete(ctx context.Context, apiKey, fileID string) error {
	if status, err := s.do(ctx, http.MethodDelete, s.BaseURL+"/files/"+fileID, apiKey, io.Discard); err != nil || status != http.StatusOK {
		return fmt.Errorf("delete %s: status %d, %v", fileID, status, err)
	}
	return nil
}

// do sends a request with the server's client, with apiKey as the bearer
// token unless it is empty, and copies the response body to w if the status
// is 200 OK.
func (s *Server) do(ctx context.Context, method, url, apiKey string, w io.Writer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		w = io.Discard
	}
	_, err = io.Copy(w, res.Body)
	return res.StatusCode, err
}

// firstLine sends the first line written to it (trimmed) on line and
// discards the rest.
type firstLine struct {
	buf  []byte
	sent bool
	line chan<- string
}

func (w *firstLine) Write(p []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.line <- strings.TrimSpace(string(w.buf[:i]))
			w.sent, w.buf = true, nil
		}
	}
	return len(p), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// TailBuffer keeps the last Max bytes written to it; a child process may
// write it while it is read.
type TailBuffer struct {
	Max int

	mu  sync.Mutex
	buf []byte
}

// Write keeps the last Max bytes of what b holds and p.
func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.Max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String is what the buffer holds.
func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
