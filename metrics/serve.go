package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry holds the collector of src and the Go runtime and process
// collectors, and nothing else (the client library's global registry is
// not used).
func NewRegistry(src Source, opts Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src, opts),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves g's metrics in the Prometheus text format. A failed
// collection answers 500, so Prometheus marks the scrape down instead of
// storing a partial state; log (may be nil) is told why.
func Handler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      errorLog{log},
		ErrorHandling: promhttp.HTTPErrorOnError,
		// Scrapes read the daemon's state; a flood of them from the LAN
		// must not queue up behind each other.
		// The collector bounds its own wait for the daemon (Options.Timeout).
		MaxRequestsInFlight: 2,
	})
}

type errorLog struct{ log *slog.Logger }

func (e errorLog) Println(v ...any) { e.log.Warn("metrics scrape", "error", fmt.Sprint(v...)) }

// Connection bounds of the metrics server: a local user holding many
// half-sent requests must not grow wgd, so connections beyond maxConns
// are closed at once, and slow ones time out.
const (
	maxConns          = 16
	readHeaderTimeout = 3 * time.Second
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 4 << 10
)

// Server answers /metrics on a listener. Its options may change while it
// runs without the listener being closed.
type Server struct {
	src     Source
	log     *slog.Logger
	handler atomic.Pointer[http.Handler]
	srv     *http.Server
	served  chan error
}

// NewServer serves /metrics on l with the state of src until Close.
// log (may be nil) is told about failed scrapes.
func NewServer(l net.Listener, src Source, opts Options, log *slog.Logger) *Server {
	s := &Server{src: src, log: log, served: make(chan error, 1)}
	s.SetOptions(opts)
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	go func() { s.served <- s.srv.Serve(CapListener(l, maxConns)) }()
	return s
}

// SetOptions applies opts to the following scrapes.
func (s *Server) SetOptions(opts Options) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(NewRegistry(s.src, opts), s.log))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "wgd: metrics are at /metrics")
	})
	var h http.Handler = mux
	s.handler.Store(&h)
}

// Close stops the server: when it returns, the listener is closed (its
// address may be bound again) and so is every connection; scrapes under
// way get 2 seconds to finish.
func (s *Server) Close() error {
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.srv.Shutdown(shut) != nil {
		s.srv.Close()
	}
	if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// CapListener accepts at most n connections at a time from l; one more
// is closed as soon as it is accepted, so that it costs neither memory
// in wgd nor a place in the kernel's queue.
func CapListener(l net.Listener, n int) net.Listener {
	return &capListener{Listener: l, slots: make(chan struct{}, n)}
}

type capListener struct {
	net.Listener
	slots chan struct{}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &capConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			c.Close()
		}
	}
}

type capConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
