// Package pgcluster starts a private PostgreSQL server from the PostgreSQL
// server binaries installed on the machine (initdb, pg_ctl, postgres), so that
// `make run` and the tests get a real database with no setup at all: no
// Docker, no system service to enable, no role or password to create.
//
// It is for development and tests only. Production points DATABASE_URL at a
// real server.
//
// # Layout
//
// Options.Dir is the PostgreSQL data directory itself. pgcluster creates it
// when missing and runs initdb when it is empty. It also keeps there:
//
//   - server.log: the server's log (its last lines are part of start errors);
//   - pgcluster.conf: the settings pgcluster manages (listen address, port,
//     and the Ephemeral settings), included from postgresql.conf and rewritten
//     on every start. The port lives there, so a kept cluster (.data/pg) comes
//     back on the same port across restarts.
//
// A lock file named after Dir with ".lock" appended (for example
// .data/pg.lock) sits beside Dir; it serializes Start calls on the same Dir
// from several processes, such as test binaries run in parallel.
//
// # Network
//
// The server listens on TCP 127.0.0.1 only, with no Unix-domain socket
// (unix_socket_directories is empty). This avoids clashing with a system cluster
// over /var/run/postgresql (which may be missing or unwritable) and avoids the
// 107-byte limit on socket paths, which deep temporary directories go over.
// The superuser is "postgres" with trust authentication; see Cluster.URL.
//
// # Running as root
//
// PostgreSQL refuses to run as root. When the effective user is root,
// initdb and pg_ctl run as the "postgres" user (through runuser, or by
// switching credentials directly when runuser is missing), Dir is chowned to
// that user, and every ancestor of Dir that user cannot traverse gets the
// search bit for others added (chmod o+x: enter only, not list). That is what
// a test's t.TempDir() (created 0700 by root) needs. Each such change is
// reported through Options.Logf. If there is no "postgres" user, Start returns
// an error saying so. As any other user, everything runs as that user.
//
// # Reuse
//
// If a server for Dir is already running (for example from a `make run` that
// is still up), Start returns a Cluster for it, read from postmaster.pid, and
// that Cluster's Stop leaves the server running. A postmaster.pid left behind
// by a crash (its process gone, or its PID reused by another process) is
// removed, so it does not block the next start.
package pgcluster
