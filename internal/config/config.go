// Package config is Rollcall's configuration: every setting, its environment
// variable, default and meaning, in one struct. The command line (kong) fills
// it from flags and the environment; the README's table lists the same.
package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Database settings, shared by every subcommand.
type Database struct {
	DatabaseURL string `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL 15+ URL. When unset, 'rollcall dev' and 'make test' start a private PostgreSQL."`
	DBMaxConns  int32  `name:"db-max-conns" env:"ROLLCALL_DB_MAX_CONNS" default:"20" help:"Maximum connections in the pool (API, workers and job queue share it)."`
}

// Log settings.
type Log struct {
	LogFormat string `name:"log-format" env:"ROLLCALL_LOG_FORMAT" enum:"json,text" default:"json" help:"Log format: json (production) or text (readable)."`
	LogLevel  string `name:"log-level" env:"ROLLCALL_LOG_LEVEL" enum:"debug,info,warn,error" default:"info" help:"Minimum log level."`
}

// Server settings for 'rollcall serve'.
type Server struct {
	Port            int           `name:"port" env:"PORT" default:"8080" help:"HTTP port."`
	Migrate         bool          `name:"migrate" env:"ROLLCALL_MIGRATE" default:"true" negatable:"" help:"Apply pending migrations at start (--no-migrate to skip)."`
	Introspection   bool          `name:"introspection" env:"ROLLCALL_INTROSPECTION" default:"true" negatable:"" help:"Answer schema introspection (without a token)."`
	MaxBodyBytes    int64         `name:"max-body-bytes" env:"ROLLCALL_MAX_BODY_BYTES" default:"1048576" help:"Largest GraphQL request body (not file uploads)."`
	MaxUploadBytes  int64         `name:"max-upload-bytes" env:"ROLLCALL_MAX_UPLOAD_BYTES" default:"1073741824" help:"Largest import file upload."`
	RequestTimeout  time.Duration `name:"request-timeout" env:"ROLLCALL_REQUEST_TIMEOUT" default:"30s" help:"Time limit of one GraphQL request."`
	UploadTimeout   time.Duration `name:"upload-timeout" env:"ROLLCALL_UPLOAD_TIMEOUT" default:"30m" help:"Time limit of one file upload."`
	MaxDecompressed int64         `name:"max-decompressed-bytes" env:"ROLLCALL_MAX_DECOMPRESSED_BYTES" default:"0" help:"Largest size a compressed file may expand to (0: four times the upload limit)."`
	MaxCompression  int64         `name:"max-compression-ratio" env:"ROLLCALL_MAX_COMPRESSION_RATIO" default:"100" help:"Most times a compressed file may expand, once past 64 MB (0: no limit)."`
	RunMemoryBytes  int64         `name:"run-memory-bytes" env:"ROLLCALL_RUN_MEMORY_BYTES" default:"1073741824" help:"Memory one import run may hold for its keys (about 60 bytes each plus its length); past it the run fails."`
	SegmentRows     int           `name:"segment-rows" env:"ROLLCALL_SEGMENT_ROWS" default:"100000" help:"A first load of at least this many rows goes into a partition of its own, indexed in bulk (much faster than row by row); smaller imports share one (0: always share)."`
	WSInitTimeout   time.Duration `name:"ws-init-timeout" env:"ROLLCALL_WS_INIT_TIMEOUT" default:"10s" help:"Time a WebSocket connection has to send connection_init (closed with 4408 after)."`
	MaxComplexity   int           `name:"max-complexity" env:"ROLLCALL_MAX_COMPLEXITY" default:"20000" help:"Largest query complexity (each field 1; a connection, or a list with a page size, counts its contents times its page size)."`
	MaxRows         int           `name:"max-rows" env:"ROLLCALL_MAX_ROWS" default:"10000" help:"Most rows one request may read: each page size, times the page sizes around it, summed."`
	MaxDepth        int           `name:"max-depth" env:"ROLLCALL_MAX_DEPTH" default:"12" help:"Deepest query nesting (introspection fields are not counted)."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" env:"ROLLCALL_SHUTDOWN_TIMEOUT" default:"30s" help:"Time to finish requests and jobs on SIGTERM."`
	Workers         int           `name:"workers" env:"ROLLCALL_WORKERS" default:"2" help:"Import runs this process executes at once; 0 makes an API-only node."`
	RunTimeout      time.Duration `name:"run-timeout" env:"ROLLCALL_RUN_TIMEOUT" default:"2h" help:"Time limit of one attempt of an import run."`
	RunStaleAfter   time.Duration `name:"run-stale-after" env:"ROLLCALL_RUN_STALE_AFTER" default:"45s" help:"A running import whose node has not reported for this long is recovered by another node."`
	Retention       time.Duration `name:"retention" env:"ROLLCALL_RETENTION" default:"720h" help:"How long a deleted import stays restorable before it is purged, and how long an applied run can be reverted."`
	SchedulerEvery  time.Duration `name:"scheduler-interval" env:"ROLLCALL_SCHEDULER_INTERVAL" default:"15s" help:"How often schedules are checked (a scheduled run starts within this of its time)."`
	GCThreshold     int64         `name:"gc-threshold-bytes" env:"ROLLCALL_GC_THRESHOLD_BYTES" default:"134217728" help:"Heap size below which garbage collection runs less often (GOGC up to 500, never under 100); 0, or GOGC set, leaves Go's default."`
	CORSOrigins     []string      `name:"cors-origins" env:"ROLLCALL_CORS_ORIGINS" sep:"," help:"Origins (scheme://host[:port], comma-separated) of browser apps on other sites allowed to call the API over HTTP and WebSocket; unset: same origin only."`
	DebugAddr       string        `name:"debug-addr" env:"ROLLCALL_DEBUG_ADDR" help:"Address (e.g. 127.0.0.1:6060) of a second listener serving Go's profiles at /debug/pprof/; unset: none. Keep it off public networks."`
}

// DefaultSegmentRows is Server.SegmentRows's default: above it, a first
// load's time goes mostly into keeping indexes up to date row by row, and
// a partition of its own costs queries little.
const DefaultSegmentRows = 100000

// DefaultServer returns the server settings with their defaults (for tests
// and tools that build a server without the command line).
func DefaultServer() Server {
	return Server{
		Port:            8080,
		Migrate:         true,
		Introspection:   true,
		MaxBodyBytes:    1 << 20,
		MaxUploadBytes:  1 << 30,
		RequestTimeout:  30 * time.Second,
		UploadTimeout:   30 * time.Minute,
		MaxCompression:  100,
		RunMemoryBytes:  1 << 30,
		SegmentRows:     DefaultSegmentRows,
		WSInitTimeout:   10 * time.Second,
		MaxComplexity:   20000,
		MaxRows:         10000,
		MaxDepth:        12,
		ShutdownTimeout: 30 * time.Second,
		Workers:         2,
		RunTimeout:      2 * time.Hour,
		RunStaleAfter:   45 * time.Second,
		SchedulerEvery:  15 * time.Second,
		GCThreshold:     128 << 20,
	}
}

// Validate checks the settings that the command line cannot (kong calls it
// on every command that embeds Server).
func (s Server) Validate() error {
	for _, o := range s.CORSOrigins {
		if _, err := ParseOrigin(o); err != nil {
			return fmt.Errorf("ROLLCALL_CORS_ORIGINS: %w", err)
		}
	}
	return nil
}

// ParseOrigin returns an origin as browsers send it in the Origin header
// (lower-case scheme and host, no default port, no trailing slash), or an
// error saying why s is not one. Only exact http(s) origins are accepted:
// no wildcard, no path.
func ParseOrigin(s string) (string, error) {
	raw := strings.TrimSpace(s)
	if strings.Contains(raw, "*") {
		return "", fmt.Errorf("%q: wildcards are not allowed; list each origin, e.g. https://app.district.org", s)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an origin: write scheme://host[:port], e.g. http://localhost:3000", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin: an origin has no user, path, query or fragment, e.g. https://app.district.org", s)
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}
