// Package metrics defines Rollcall's Prometheus metrics in one place, on a
// registry of their own (not the global one), so that tests can run many
// servers in one process.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests *prometheus.CounterVec
	HTTPDuration *prometheus.HistogramVec

	GraphQLOperations *prometheus.CounterVec
	GraphQLDuration   *prometheus.HistogramVec

	ImportRuns        *prometheus.CounterVec
	ImportRows        *prometheus.CounterVec
	ImportRunDuration *prometheus.HistogramVec
}

// New registers the process, Go runtime and service metrics on a new registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m := &Metrics{
		Registry: reg,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rollcall_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rollcall_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		GraphQLOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rollcall_graphql_operations_total",
			Help: "GraphQL operations by type, name and outcome (ok or the first error code).",
		}, []string{"type", "name", "outcome"}),
		GraphQLDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rollcall_graphql_operation_duration_seconds",
			Help:    "GraphQL operation latency by type and name.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"type", "name"}),
	}
	m.ImportRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rollcall_import_runs_total",
		Help: "Import runs finished on this node, by status and trigger (dry runs have status dry_run).",
	}, []string{"status", "trigger"})
	m.ImportRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rollcall_import_rows_total",
		Help: "Rows of applied import runs on this node, by outcome (created, updated, unchanged, removed, restored, rejected).",
	}, []string{"outcome"})
	m.ImportRunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rollcall_import_run_duration_seconds",
		Help:    "Time from start to end of an import run attempt on this node, by status.",
		Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
	}, []string{"status"})
	reg.MustRegister(m.HTTPRequests, m.HTTPDuration, m.GraphQLOperations, m.GraphQLDuration,
		m.ImportRuns, m.ImportRows, m.ImportRunDuration)
	return m
}

// MustRegister adds collectors owned by other packages (the database pool,
// the job queue).
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.Registry.MustRegister(cs...) }
