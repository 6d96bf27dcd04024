// Package bench holds Rollcall's end-to-end benchmarks (make bench): the
// real server binary against a private PostgreSQL with default (durable)
// settings, measured from outside the way an SIS script and a front end use
// it, next to baselines of plain PostgreSQL doing the same work.
package bench
