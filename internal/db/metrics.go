package db

import (
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports pgxpool statistics. The database/sql stats collector
// in client_golang would see only the thin database/sql layer, which keeps no
// idle connections of its own here; the pool that matters is pgx's.
type poolCollector struct {
	db                                      *DB
	total, idle, acquired, max, constructed *prometheus.Desc
	acquires, acquireWait, emptyAcquires    *prometheus.Desc
}

// NewPoolCollector returns a Prometheus collector for d's connection pool.
func NewPoolCollector(d *DB) prometheus.Collector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("rollcall_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		db:            d,
		total:         desc("connections", "Open connections in the pool."),
		idle:          desc("idle_connections", "Idle connections in the pool."),
		acquired:      desc("acquired_connections", "Connections in use."),
		max:           desc("max_connections", "Configured maximum pool size."),
		constructed:   desc("constructing_connections", "Connections being opened."),
		acquires:      desc("acquires_total", "Connections acquired from the pool."),
		acquireWait:   desc("acquire_wait_seconds_total", "Time spent waiting for a connection."),
		emptyAcquires: desc("empty_acquires_total", "Acquires that had to wait because the pool was empty."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.db.Pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.max, float64(s.MaxConns()))
	gauge(c.constructed, float64(s.ConstructingConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireWait, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
}
