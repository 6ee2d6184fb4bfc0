package benchkit

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// ConnSampler counts, every interval, the established TCP connections whose
// local port is a server's port (the server's ends of the connections it
// accepted), from /proc/net/tcp and /proc/net/tcp6: what `ss -tn state
// established '( sport = :PORT )'` lists, read without starting a process
// each time. It keeps the most seen at one time and how many distinct
// connections (peer address and port) it saw.
//
// Connections shorter than the interval can be missed by both figures.
type ConnSampler struct {
	port string // upper-case hex, as /proc/net/tcp writes it

	mu   sync.Mutex
	max  int
	seen map[string]bool
	ok   bool // a table was read

	stop, done chan struct{}
}

// SampleConns starts sampling the connections to port every interval (and
// once at once) until Stop.
func SampleConns(port int, interval time.Duration) *ConnSampler {
	s := &ConnSampler{port: strconv.FormatInt(int64(port), 16), seen: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for len(s.port) < 4 {
		s.port = "0" + s.port
	}
	s.port = string(bytes.ToUpper([]byte(s.port)))
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling, after one last sample, and returns the most
// connections established at one time and the distinct connections seen;
// ok is false if /proc/net/tcp could not be read.
func (s *ConnSampler) Stop() (most, distinct int, ok bool) {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, len(s.seen), s.ok
}

// sample reads the tables once. A table is read in several reads, each
// resuming a walk of the kernel's hash table that may have changed in
// between: a connection can show twice, so each counts once, by its peer.
func (s *ConnSampler) sample() {
	read := false
	peers := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		read = true
		for _, p := range establishedTo(raw, s.port) {
			peers[table+" "+p] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ok = s.ok || read
	s.max = max(s.max, len(peers))
	for p := range peers {
		s.seen[p] = true
	}
}

// establishedTo returns the remote addresses (hex ADDR:PORT) of the
// established connections of a /proc/net/tcp table whose local port is
// port (4 upper-case hex digits).
func establishedTo(table []byte, port string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		// "sl local_address rem_address st ...": "0: 0100007F:1F90 0100007F:C350 01 ..."
		f := bytes.Fields(sc.Bytes())
		if len(f) < 4 || string(f[3]) != "01" { // 01: TCP_ESTABLISHED
			continue
		}
		i := bytes.LastIndexByte(f[1], ':')
		if i < 0 || string(f[1][i+1:]) != port {
			continue
		}
		out = append(out, string(f[2]))
	}
	return out
}
