// Package apply applies a file to an import's recipients (or, for a USER
// import, to user accounts) in the caller's transaction: it reads the file
// with importfile, maps each row with mapping's plan, compares it with what
// the import holds (a compact key index of row hashes), and writes only what
// changed, as COPY text, keeping the before-images that Undo needs. The
// guards (rejected rows, removals) hold a run back before anything is
// committed. Run is the entry; the caller (importjobs) holds the run locks
// (Lock) and records the outcome.
package apply

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/oneroster"
	"github.com/rollcall/rollcall/internal/recipients"
)

// Phase is what a running run is doing, as progress reports it.
type Phase string

// The phases of a run, in order.
const (
	PhaseReading  Phase = "READING"  // reading the file, checking rows, comparing with the import's data
	PhaseApplying Phase = "APPLYING" // writing the changes
)

// maxSampleChanges bounds the sample of changes a run keeps.
const maxSampleChanges = 100

// Progress is how far a run has come, shared between the pipeline and
// whoever reports it (a heartbeat).
type Progress struct {
	phase atomic.Value // Phase
	rows  atomic.Int64 // lines read so far, blank ones included
	total atomic.Int64 // 0: unknown
}

// SetTotal sets the number of lines expected (the file's line count).
func (p *Progress) SetTotal(lines int64) { p.total.Store(lines) }

// Snapshot returns the phase (READING until the changes apply), the lines
// read so far and the lines expected (0: unknown).
func (p *Progress) Snapshot() (phase Phase, lines, total int64) {
	phase, _ = p.phase.Load().(Phase)
	if phase == "" {
		phase = PhaseReading
	}
	return phase, p.rows.Load(), p.total.Load()
}

// Spec is what one run applies, and to what.
type Spec struct {
	ImportID   int64
	ImportName string
	// Users: a USER import (accounts), else a recipient import.
	Users bool
	// RemoveAbsent (FULL): who is not in the file is removed (recipients)
	// or disabled (users). CreateOnly (CREATE_ONLY): who exists is left
	// as they are.
	RemoveAbsent, CreateOnly bool
	Mapping                  mapping.Mapping
	DefaultType              recipients.Type
	// The guards, in percent: of rows rejected, of the active set removed.
	RejectionThreshold, RemovalThreshold float64
	// HasRun: the import has been applied before (a hint for sizing).
	HasRun bool
	RunID  int64
	DryRun bool
	// Approved: a held run an administrator approved (no removal guard).
	Approved bool
	Now      time.Time
	Limits   importfile.Limits
	// SegmentRows: a first load of at least this many lines gets a segment
	// of its own, indexed in bulk (segment.go); 0: never.
	SegmentRows int
	// OneRoster: the file is a OneRoster export (internal/oneroster), read
	// through File.At. Its records are merged into those the import holds,
	// and the run applies the people the import then holds, all of them.
	OneRoster bool
	// ProvisionTeachers (OneRoster): keep the teachers' accounts
	// (oneroster.Provision) once the people are applied.
	ProvisionTeachers bool
	// ImportNames names imports by id: for a USER import, the other
	// imports that manage accounts of the file.
	ImportNames func(ctx context.Context, ids []int64) (map[int64]string, error)
}

// Status is how a run ended, as the import's runs record it.
type Status string

const (
	StatusSucceeded           Status = "SUCCEEDED"
	StatusSucceededWithErrors Status = "SUCCEEDED_WITH_ERRORS"
	StatusFailed              Status = "FAILED"
	StatusHeld                Status = "HELD"
	StatusCanceled            Status = "CANCELED"
)

// ChangeAction is what a run did (or would do) to a recipient or user.
type ChangeAction string

const (
	ActionCreate  ChangeAction = "CREATE"
	ActionUpdate  ChangeAction = "UPDATE"
	ActionRemove  ChangeAction = "REMOVE"
	ActionRestore ChangeAction = "RESTORE"
)

// Change is one entry of a run's sample of changes: a field of a
// recipient or user, old → new.
type Change struct {
	Line       *int
	ExternalID string
	Action     ChangeAction
	Field      *string
	OldValue   *string
	NewValue   *string
}

// Counts are a run's row counts.
type Counts struct {
	RowsRead, Created, Updated, Unchanged, Removed, Restored, Rejected int
}

// Result is what a run did, or would do.
type Result struct {
	Status   Status
	Counts   Counts
	Message  string
	Errors   []importfile.RowError
	Warnings []string
	Changes  []Change
	// Applied: the changes are written in the transaction (commit it).
	Applied bool
	// UndoWatermark, for an applied run that can be reverted (see Undo).
	UndoWatermark *int64
	// AnalyzeRecipients: once the run has committed, ANALYZE recipients
	// (AnalyzeRecipients): the run attached a new segment, whose own
	// statistics it gathered, but the partitioned table's as a whole, which
	// the planner uses for joins and autovacuum never gathers, are stale.
	AnalyzeRecipients bool
	// Timings of the phases, for the log.
	Timings []slog.Attr
}

// Rollback ends a run's transaction without committing, carrying the
// result (dry runs, guards, failed files): record it separately.
type Rollback struct{ Result *Result }

func (e *Rollback) Error() string { return "rolled back: " + string(e.Result.Status) }

// File is the stored file a run reads: as a stream from its start (a flat
// file), or at any offset (a OneRoster export's zip, whose directory is
// at its end).
type File struct {
	Stream io.Reader
	At     io.ReaderAt
	Size   int64
}

// Run applies file to spec's import in tx, which must hold the import's run
// locks (Lock). It returns *Rollback for outcomes that must not be
// committed, and another error when the machinery failed.
func Run(ctx context.Context, tx *db.Tx, spec Spec, file File, prog *Progress) (*Result, error) {
	base := runBase{spec: spec, notes: &importfile.Notes{}, progress: prog}
	var p executor = &pipeline{runBase: base, tx: tx}
	if spec.Users {
		p = &userPipeline{runBase: base, tx: tx}
	}
	return p.execute(ctx, file)
}

// executor is a pipeline: recipients (pipeline.go) or accounts
// (userimport.go). Both read the file with importfile, share runBase's
// outcomes and guards, and write in the run's transaction.
type executor interface {
	execute(ctx context.Context, file File) (*Result, error)
}

// records is what a pipeline reads rows from: a flat file's reader
// (importfile.Reader), or a OneRoster export's people (oneroster.People).
type records interface {
	Header() ([]string, error)
	// Read returns the next record and its line; io.EOF at the end. A
	// *importfile.RowError comes with a row rejected whole (its key read
	// if it can be).
	Read() ([]string, int, error)
	Watch(ctx context.Context, lines *atomic.Int64)
	Finish()
}

// lockKey is the advisory lock serializing applies to one import.
func lockKey(importID int64) int64 {
	return int64(xxhash.Sum64String("rollcall:import")) ^ importID
}

// userImportsLockKey is the advisory lock serializing the applies of all
// USER imports: they share the users table, and a user one of them takes
// over is no longer another's to take.
var userImportsLockKey = int64(xxhash.Sum64String("rollcall:user-imports"))

// Lock takes, for tx, the run lock of spec's import (waiting for a run
// applying it to end), and for a USER import the lock all of them share.
// A delete and a revert take the import's lock too (TryLock): check that
// the import is still live after taking it.
func Lock(ctx context.Context, tx *db.Tx, spec Spec) error {
	q, args := "SELECT pg_advisory_xact_lock(?)", []any{lockKey(spec.ImportID)}
	if spec.Users {
		q, args = "SELECT pg_advisory_xact_lock(?), pg_advisory_xact_lock(?)", append(args, userImportsLockKey)
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("lock import %d: %w", spec.ImportID, err)
	}
	return nil
}

// TryLock takes import importID's run lock for idb's transaction without
// waiting, and reports whether it could: false while a run applies it.
func TryLock(ctx context.Context, idb bun.IDB, importID int64) (bool, error) {
	var free bool
	if err := idb.NewRaw("SELECT pg_try_advisory_xact_lock(?)", lockKey(importID)).Scan(ctx, &free); err != nil {
		return false, fmt.Errorf("lock import %d: %w", importID, err)
	}
	return free, nil
}

// entry is what the pipeline knows about one key from the file (and its
// state in the database). Keys already in the database come first, so entry
// number i < len(existing) has existing[i]. Both are kept small and free of
// pointers: there is one per key, a million in a large district.
type entry struct {
	fileHash int64
	line     int32
	flags    uint8
}

// existingRow is a recipient the import already has.
type existingRow struct {
	id      int64
	oldHash int64
}

const (
	flagExisting  uint8 = 1 << iota
	flagRemoved         // existing, but removed
	flagSeen            // in the file
	flagConflict        // in the file more than once, with different values
	flagRejected        // its row was rejected
	flagUnchanged       // counted as unchanged
	flagStaged          // written to staging
)

// stage operations.
const (
	opInsert  = "I"
	opUpdate  = "U"
	opRestore = "R"
)

// pipeline applies one file to one import's recipients inside one
// transaction. It streams: the file is parsed as it is read, and only rows
// that are new or changed are normalized and copied to the database.
// Unchanged rows are recognized by their hash, computed while parsing, and
// cost a map lookup.
type pipeline struct {
	runBase
	ctx  context.Context // the run's, for reading the file (see next)
	tx   *db.Tx
	plan *mapping.Plan
	rr   records

	index    *keyIndex
	entries  []entry       // by entry number, as in index
	existing []existingRow // by entry number, for keys already in the database
	active   int           // existing recipients not removed

	direct  bool  // the import is empty: copy straight into recipients
	segment int64 // where the import's recipients live (segment.go)
	// newSegment: a large first load, copied into a new segment's table
	// (segment.go) that is indexed and attached once the rows are in. It
	// keeps no key index: repeated keys are found in the table once the
	// rows are in (resolveRepeats).
	newSegment  bool
	ddl         *segmentDDL
	copied      int        // rows copied into the new segment
	unkept      []keyedRow // rows of the new segment's file rejected with their key
	unkeptBytes int64
	repeats     int   // rows copied and then taken back as repeats
	watermark   int64 // the highest recipient id before the run
	conflicts   []string
	created     []Change // sample of creations
	blank       int
	dups        int

	// COPY source state
	digest  *xxhash.Digest
	row     mapping.Row
	copyBuf []byte
	copyOff int
	copyEOF bool
	err     error
}

// run executes the pipeline. It returns *Rollback for outcomes that must
// not be committed.
func (p *pipeline) execute(ctx context.Context, file File) (*Result, error) {
	p.ctx = ctx
	// Every row this run creates gets an id above the watermark (see
	// undo.go); read it before any is created.
	if err := p.tx.QueryRowContext(ctx, undoWatermarkSQL).Scan(&p.watermark); err != nil {
		return nil, fmt.Errorf("read undo watermark: %w", err)
	}
	if err := p.tx.QueryRowContext(ctx, `SELECT segment_id FROM imports WHERE id = ?`, p.spec.ImportID).Scan(&p.segment); err != nil {
		return nil, fmt.Errorf("read the import's segment: %w", err)
	}
	p.progress.phase.Store(PhaseReading)
	mark := time.Now()
	lap := func(name string) {
		p.timings = append(p.timings, slog.Duration(name, time.Since(mark)))
		mark = time.Now()
	}
	m := p.spec.Mapping
	if p.spec.OneRoster {
		var people *oneroster.People
		err := p.tx.Pgx(func(c *pgx.Conn) error {
			var err error
			people, err = oneroster.Prepare(ctx, c, file.At, file.Size, oneroster.Target{ImportID: p.spec.ImportID, RunID: p.spec.RunID}, p.notes, p.spec.Limits)
			return err
		})
		if err != nil {
			return p.fail(err)
		}
		defer people.Finish()
		if people.Rows() == 0 {
			return p.fail(&importfile.FileError{File: "users.csv", Message: "the export holds nobody: users.csv is absent or empty, and earlier exports left no people; nothing was applied"})
		}
		p.notes.File = "users.csv"
		p.progress.SetTotal(int64(people.Rows()))
		p.rr, m = people, people.Mapping()
		lap("oneroster_prepare")
	} else {
		rr, err := importfile.NewReader(file.Stream, p.notes, false, p.spec.Limits)
		if err != nil {
			return p.fail(err)
		}
		p.rr = rr
	}
	p.rr.Watch(ctx, &p.progress.rows)
	header, err := p.rr.Header()
	if err != nil {
		return p.fail(err)
	}
	if p.plan, err = mapping.NewPlan(header, m, p.notes); err != nil {
		return p.fail(err)
	}
	// A large first load of an import still in the shared segment gets a
	// segment of its own (the total is the file's lines after the header),
	// and keeps nothing per key (see prepareFlat).
	if p.segment == 0 && p.spec.SegmentRows > 0 && p.progress.total.Load() >= int64(p.spec.SegmentRows) {
		var has bool
		if err := p.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM recipients WHERE import_id = ? AND segment_id = 0)`, p.spec.ImportID).Scan(&has); err != nil {
			return nil, fmt.Errorf("look for the import's recipients: %w", err)
		}
		p.newSegment = !has
	}
	if !p.newSegment {
		if err := p.loadExisting(ctx, p.progress.total.Load()); err != nil {
			return p.fail(err)
		}
	}
	lap("load_existing")
	p.direct = len(p.entries) == 0
	p.digest = xxhash.New()

	table, columns := "recipients", recipientColumns
	if p.newSegment {
		err := p.tx.Pgx(func(c *pgx.Conn) error {
			var err error
			p.segment, p.ddl, err = createSegment(ctx, c)
			return err
		})
		if err != nil {
			return nil, err
		}
		table, columns = pgx.Identifier{segmentTable(p.segment)}.Sanitize(), append(recipientColumns[:len(recipientColumns):len(recipientColumns)], "line")
	}
	if !p.direct {
		if _, err := p.tx.ExecContext(ctx, createStageSQL); err != nil {
			return nil, fmt.Errorf("create staging table: %w", err)
		}
		table, columns = "import_stage", stageColumns
	}
	statement := fmt.Sprintf("COPY %s (%s) FROM STDIN", table, strings.Join(columns, ", "))
	if _, err := p.tx.CopyFromText(ctx, statement, p); err != nil {
		// pgx reports a source's failure as the server's "COPY failed";
		// the source's own error says what happened.
		if p.err != nil {
			err = p.err
		}
		err = dataError(err)
		var fe *importfile.FileError
		if errors.As(err, &fe) {
			return p.fail(fe)
		}
		return nil, err
	}
	p.rr.Finish()
	lap("read_and_copy")
	if p.newSegment {
		if err := p.tx.Pgx(func(c *pgx.Conn) error { return p.resolveRepeats(ctx, c) }); err != nil {
			return nil, err
		}
		lap("repeats")
	}
	if p.counts.RowsRead == 0 {
		return p.fail(&importfile.FileError{Line: 1, Message: "the file has a header but no data rows; nothing was applied"})
	}

	p.progress.phase.Store(PhaseApplying)
	removals := p.removals()
	p.counts.Removed = len(removals)
	p.counts.Rejected = len(p.notes.Errors) + p.notes.Dropped
	if p.dups > 0 {
		p.notes.Warn(fmt.Sprintf("%d row(s) repeated an earlier row exactly (same key and values) and were counted once", p.dups))
	}
	if p.blank > 0 {
		p.notes.Warn(fmt.Sprintf("%d blank row(s) skipped", p.blank))
	}

	if rb := p.guard(len(removals), p.active, recipientWords); rb != nil {
		return rb.Result, rb
	}

	// A held run applies too, to count what it would do, and rolls back
	// (succeed).
	changes, err := p.apply(ctx, removals)
	if err != nil {
		return p.fail(dataError(err))
	}
	lap("apply")
	if p.spec.ProvisionTeachers {
		c, err := oneroster.Provision(ctx, p.tx, p.spec.ImportID, p.spec.Now)
		if err != nil {
			return nil, err
		}
		p.notes.Warn(c.String())
		lap("teacher_accounts")
	}
	res, err := p.succeed(changes, recipientWords)
	if res != nil {
		res.UndoWatermark = &p.watermark
		res.AnalyzeRecipients = p.newSegment && res.Applied
	}
	return res, err
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) * 100 / float64(of)
}

// words name what an import keeps, and what happens to those absent from
// a FULL file, in run messages.
type words struct {
	things   string // "recipients"
	remove   string // "remove"
	removed  string // "removed"
	restored string // "restored"
}

var (
	recipientWords = words{things: "recipients", remove: "remove", removed: "removed", restored: "restored"}
	userWords      = words{things: "users", remove: "disable", removed: "disabled", restored: "re-enabled"}
)

func summarize(c Counts, dry bool, w words) string {
	verb := "applied"
	if dry {
		verb = "dry run, nothing applied"
	}
	return fmt.Sprintf("%d rows read: %d created, %d updated, %d unchanged, %d %s, %d %s, %d rejected (%s)",
		c.RowsRead, c.Created, c.Updated, c.Unchanged, c.Removed, w.removed, c.Restored, w.restored, c.Rejected, verb)
}

// runBase is what every kind of import's pipeline shares: the run, its
// notes, progress and counts, and the way a run ends.
type runBase struct {
	spec     Spec
	notes    *importfile.Notes
	progress *Progress
	counts   Counts
	timings  []slog.Attr
	// held: why the removal guard holds the run (guard), else "".
	held string
}

func (b *runBase) result(status Status, message string) *Result {
	return &Result{Status: status, Counts: b.counts, Message: message, Errors: b.notes.Errors,
		Warnings: b.notes.AllWarnings(), Timings: b.timings}
}

// fail ends the run as FAILED because of err (a file problem), or returns
// err if it is not one.
func (b *runBase) fail(err error) (*Result, error) {
	var fe *importfile.FileError
	if !errors.As(err, &fe) {
		return nil, err
	}
	line := fe.Line
	b.notes.Errors = append([]importfile.RowError{{File: fe.File, Line: line, Column: fe.Column, Message: fe.Message}}, b.notes.Errors...)
	res := b.result(StatusFailed, fe.Error())
	res.Counts.Rejected = len(b.notes.Errors) - 1 + b.notes.Dropped
	return res, &Rollback{Result: res}
}

func (b *runBase) rollback(status Status, message string) (*Result, error) {
	res := b.result(status, message)
	return res, &Rollback{Result: res}
}

// guard applies the import's guards once the run knows what it would do
// (counts.RowsRead and counts.Rejected set): a run rejecting more rows than
// the rejection threshold fails (the Rollback returned); a FULL run
// removing more than the removal threshold of the active set (active,
// before the run) is held unless an administrator approved it. A held run
// goes on, as a dry run does, so that its counts and sample are what
// approval would apply, and succeed rolls it back HELD.
func (b *runBase) guard(removals, active int, w words) *Rollback {
	spec, c := b.spec, b.counts
	if c.RowsRead > 0 && pct(c.Rejected, c.RowsRead) > spec.RejectionThreshold {
		res := b.result(StatusFailed, fmt.Sprintf(
			"%d of %d rows (%.1f%%) were rejected, more than the import's limit of %g%%: the file looks damaged, so nothing was applied",
			c.Rejected, c.RowsRead, pct(c.Rejected, c.RowsRead), spec.RejectionThreshold))
		return &Rollback{Result: res}
	}
	if !spec.Approved && active > 0 && pct(removals, active) > spec.RemovalThreshold {
		b.held = fmt.Sprintf("this file would %s %d of %d active %s (%.1f%%), more than the import's limit of %g%%",
			w.remove, removals, active, w.things, pct(removals, active), spec.RemovalThreshold)
	}
	return nil
}

// succeed ends a run whose changes are written in its transaction: applied,
// or rolled back for a dry run or a held one (whose counts and sample are
// then what approval would apply).
func (b *runBase) succeed(changes []Change, w words) (*Result, error) {
	res := b.result(StatusSucceeded, "")
	res.Changes = changes
	if res.Counts.Rejected > 0 {
		res.Status = StatusSucceededWithErrors
	}
	res.Message = summarize(res.Counts, b.spec.DryRun, w)
	switch {
	case b.held != "" && b.spec.DryRun:
		// A dry run changes nothing, so it never holds the import up: it
		// says that a real run would be held.
		res.Message += "; a run of this file would be HELD: " + b.held
	case b.held != "":
		res.Status, res.Message = StatusHeld, b.held+": nothing was applied; approve the run to apply it, or cancel it"
	}
	if b.spec.DryRun || b.held != "" {
		return res, &Rollback{Result: res}
	}
	res.Applied = true
	return res, nil
}

// loadExisting reads the import's keys and row hashes with pgx's binary
// protocol, straight from the wire into the key index: a million rows take
// a fraction of a second and allocate almost nothing.
func (p *pipeline) loadExisting(ctx context.Context, expectRows int64) error {
	return p.tx.Pgx(func(c *pgx.Conn) error {
		// Sized for the file (its line count): a nightly file is about as
		// large as what the import has, plus a few percent of new keys; a
		// first run's keys are all new. Counting the import's rows first
		// would read them all twice.
		// The file's line count is only a hint, and is capped: a
		// compression bomb of blank lines counts billions of lines, and
		// structures must grow only with the keys actually kept.
		expectRows = min(expectRows, maxSizingHint)
		capacity := int(expectRows + 16)
		if p.spec.HasRun {
			capacity += int(expectRows / 50)
		}
		p.index = newKeyIndex(capacity)
		p.entries = make([]entry, 0, capacity)
		rows, err := c.Query(ctx, `SELECT id, external_id, row_hash, removed_at IS NOT NULL FROM recipients WHERE import_id = $1 AND segment_id = $2`,
			pgx.QueryResultFormats{pgx.BinaryFormatCode}, p.spec.ImportID, p.segment)
		if err != nil {
			return fmt.Errorf("load recipients: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			raw := rows.RawValues()
			if len(raw[0]) != 8 || len(raw[2]) != 8 || len(raw[3]) != 1 {
				return errors.New("load recipients: unexpected binary layout")
			}
			if p.existing == nil {
				p.existing = make([]existingRow, 0, capacity)
			}
			p.existing = append(p.existing, existingRow{id: int64(binary.BigEndian.Uint64(raw[0])), oldHash: int64(binary.BigEndian.Uint64(raw[2]))})
			e := entry{flags: flagExisting}
			if raw[3][0] != 0 {
				e.flags |= flagRemoved
			} else {
				p.active++
			}
			// The index copies the key; the string only lives for the call.
			p.index.add(unsafe.String(unsafe.SliceData(raw[1]), len(raw[1])))
			p.entries = append(p.entries, e)
			if err := p.checkMemory(); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load recipients: %w", err)
		}
		return nil
	})
}

// Read makes the pipeline the COPY data: each call fills a buffer with
// rows, reading records until enough need writing.
func (p *pipeline) Read(dst []byte) (int, error) {
	for p.copyOff == len(p.copyBuf) {
		if p.err != nil {
			return 0, p.err
		}
		if p.copyEOF {
			return 0, io.EOF
		}
		p.copyBuf, p.copyOff = p.copyBuf[:0], 0
		for len(p.copyBuf) < copyBufferSize && !p.copyEOF && p.err == nil {
			p.next()
		}
	}
	n := copy(dst, p.copyBuf[p.copyOff:])
	p.copyOff += n
	return n, nil
}

// copyBufferSize is how much COPY data is prepared at a time.
const copyBufferSize = 256 << 10

// next reads records until one row is appended to the COPY buffer, the file
// ends (copyEOF) or fails (err).
func (p *pipeline) next() {
	for n := 1; ; n++ {
		// A file of blank or rejected lines writes nothing for a long
		// time: cancellation is checked here, not only by COPY.
		if n%1024 == 0 {
			if err := context.Cause(p.ctx); err != nil {
				p.err = err
				return
			}
		}
		rec, line, err := p.rr.Read()
		if errors.Is(err, io.EOF) {
			p.copyEOF = true
			return
		}
		var re *importfile.RowError
		if errors.As(err, &re) {
			p.counts.RowsRead++
			p.rejectUnreadable(rec, line, *re)
			if p.err != nil {
				return
			}
			continue
		}
		if err != nil {
			p.err = err
			return
		}
		p.counts.RowsRead++
		if p.prepare(rec, line) || p.err != nil {
			return
		}
	}
}

// prepare decides what a record needs and appends it to the COPY buffer
// when it must be written.
func (p *pipeline) prepare(rec []string, line int) bool {
	plan := p.plan
	if importfile.AllBlank(rec) {
		// Blank lines, and the lines of bare commas spreadsheets leave.
		p.blank++
		p.counts.RowsRead--
		return false
	}
	if len(rec) != len(plan.Header()) {
		p.rejectUnreadable(rec, line, importfile.RowError{Line: line, Message: fmt.Sprintf("expected %d fields (as in the header), found %d", len(plan.Header()), len(rec))})
		return false
	}
	key := plan.Key(rec)
	if key == "" {
		p.notes.Reject(importfile.RowError{Line: line, Column: plan.KeyColumn(), Message: "the key is empty"})
		return false
	}
	hash := plan.HashRecord(p.digest, rec)
	if p.newSegment {
		return p.prepareFlat(rec, line, key, hash)
	}

	idx := p.lookup(key)
	e := &p.entries[idx]
	if e.flags&flagSeen != 0 {
		return p.repeated(e, key, hash, line)
	}
	e.flags |= flagSeen
	e.fileHash = hash
	e.line = int32(line)

	existing := e.flags&flagExisting != 0
	removed := e.flags&flagRemoved != 0
	var old existingRow
	if existing {
		old = p.existing[idx]
	}
	if existing && (old.oldHash == hash && !removed || p.spec.CreateOnly) {
		e.flags |= flagUnchanged
		p.counts.Unchanged++
		return false
	}
	if rerr := plan.Normalize(rec, line, p.spec.DefaultType, p.notes, &p.row); rerr != nil {
		e.flags |= flagRejected
		p.notes.Reject(*rerr)
		return false
	}
	e.flags |= flagStaged
	op := opInsert
	switch {
	case removed:
		op = opRestore
	case existing:
		op = opUpdate
	}
	if op == opInsert && len(p.created) < maxSampleChanges/2 {
		l := line
		p.created = append(p.created, Change{Line: &l, ExternalID: key, Action: ActionCreate})
	}
	p.appendRow(op, line, old.id, hash)
	return true
}

// lookup returns the entry number of key, adding an entry for a key new to
// the import. Past the run's memory budget it sets p.err.
func (p *pipeline) lookup(key string) int32 {
	idx, known := p.index.find(key)
	if !known {
		idx = p.index.add(key)
		p.entries = append(p.entries, entry{})
		if err := p.checkMemory(); err != nil && p.err == nil {
			p.err = err
		}
	}
	return idx
}

// maxSizingHint caps the number of keys the key index is sized for before
// reading (1M keys, about 80 MB): larger imports grow it as they go.
const maxSizingHint = 1 << 20

// bytesPerEntry is what a key costs beside the index (keyIndex.size): its
// entry, and for keys already in the database, their id and hash.
const bytesPerEntry = int64(unsafe.Sizeof(entry{}) + unsafe.Sizeof(existingRow{}))

// memory estimates what the run holds for its keys.
func (p *pipeline) memory() int64 {
	return p.index.size() + int64(p.index.len())*bytesPerEntry
}

// checkMemory fails the run once its keys need more than its memory budget
// (Limits.RunMemoryBytes): a file of endless distinct keys costs a failed
// run, not the node.
func (p *pipeline) checkMemory() error {
	budget := p.spec.Limits.RunMemoryBytes
	// Checked every 1024 keys: the estimate moves slowly.
	if budget <= 0 || p.index.len()%1024 != 0 || p.memory() <= budget {
		return nil
	}
	return &importfile.FileError{Message: fmt.Sprintf("the import and the file hold more than %d distinct keys, more than a run may keep in memory (about %s; the limit, ROLLCALL_RUN_MEMORY_BYTES, is %s): nothing was applied",
		p.index.len(), importfile.FormatBytes(p.memory()), importfile.FormatBytes(budget))}
}

// rejectUnreadable rejects a row that could not be read whole (wrong number
// of fields, a quote out of place). If its key can still be read, the
// recipient is kept as it is: the file did have a row for them, so a FULL
// run must not remove them, and another row with that key conflicts.
func (p *pipeline) rejectUnreadable(rec []string, line int, re importfile.RowError) {
	p.notes.Reject(re)
	k := p.plan.KeyIndex()
	if k >= len(rec) {
		return
	}
	key := strings.TrimSpace(rec[k])
	if key == "" {
		return
	}
	if p.newSegment {
		p.keepRejected(keyedRow{key: key, line: int32(line), hash: p.plan.HashRecord(p.digest, rec), unreadable: true})
		return
	}
	e := &p.entries[p.lookup(key)]
	if e.flags&flagSeen != 0 {
		return
	}
	e.flags |= flagSeen | flagRejected
	e.line = int32(line)
	e.fileHash = p.plan.HashRecord(p.digest, rec)
}

// repeated handles a key seen before in this file: an exact repeat is
// counted once; different values reject every row with that key, and the
// recipient is left as it was (neither updated nor removed).
func (p *pipeline) repeated(e *entry, key string, hash int64, line int) bool {
	if e.flags&flagConflict == 0 && e.fileHash == hash {
		// The same row again (rejected or not): counted once.
		p.dups++
		return false
	}
	column := p.plan.KeyColumn()
	if e.flags&flagConflict == 0 {
		e.flags |= flagConflict
		p.conflicts = append(p.conflicts, key)
		if e.flags&flagRejected == 0 {
			p.notes.Reject(importfile.RowError{Line: int(e.line), Column: column, Value: key,
				Message: fmt.Sprintf("key %q appears again on line %d with different values; neither row was applied", key, line)})
			if e.flags&flagUnchanged != 0 {
				p.counts.Unchanged--
			}
		}
		e.flags |= flagRejected
	}
	p.notes.Reject(importfile.RowError{Line: line, Column: column, Value: key,
		Message: fmt.Sprintf("key %q already appeared on line %d with different values; neither row was applied", key, e.line)})
	return false
}

// dataError turns PostgreSQL's refusal of a value (SQLSTATE class 22, data
// exception: a byte sequence invalid in UTF-8, a value out of range) into a
// file problem: retrying would fail the same way.
func dataError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		msg := "the database refused a value of the file: " + pgErr.Message
		if pgErr.Where != "" {
			msg += " (" + pgErr.Where + ")"
		}
		return &importfile.FileError{Message: msg}
	}
	return err
}

// Column lists for COPY.
var (
	// Recipients' timestamps are the database's (its now(): the run's
	// transaction start); leaving them to the column defaults keeps 60
	// bytes of text per row out of COPY.
	recipientColumns = []string{"segment_id", "import_id", "external_id", "type", "first_name", "last_name", "grade", "grade_rank",
		"school", "language", "phones", "emails", "custom_fields", "row_hash",
		"first_name_key", "last_name_key", "school_key", "language_key", "custom_fields_key"}
	stageColumns = []string{"op", "line", "id", "external_id", "type", "first_name", "last_name", "grade", "grade_rank",
		"school", "language", "phones", "emails", "custom_fields", "row_hash",
		"first_name_key", "last_name_key", "school_key", "language_key", "custom_fields_key"}
)

// createStageSQL is the staging table: the rows to insert, update or
// restore, with the recipient's id for the latter two.
const createStageSQL = `CREATE TEMP TABLE import_stage (
	op text NOT NULL, line integer NOT NULL, id bigint, external_id text NOT NULL, type text NOT NULL,
	first_name text NOT NULL, last_name text NOT NULL, grade text, grade_rank smallint,
	school text, language text, phones jsonb NOT NULL, emails jsonb NOT NULL,
	custom_fields jsonb NOT NULL, row_hash bigint NOT NULL,
	first_name_key text NOT NULL, last_name_key text NOT NULL, school_key text, language_key text,
	custom_fields_key jsonb NOT NULL
) ON COMMIT DROP`

// appendRow writes the staged row in COPY text form, in the column order
// of recipientColumns (direct) or stageColumns.
func (p *pipeline) appendRow(op string, line int, id, hash int64) {
	r, b := &p.row, p.copyBuf
	if p.direct {
		b = appendCopyInt(b, p.segment)
		b = append(b, '\t')
		b = appendCopyInt(b, p.spec.ImportID)
	} else {
		b = append(b, op...)
		b = append(b, '\t')
		b = appendCopyInt(b, int64(line))
		b = append(b, '\t')
		if id > 0 {
			b = appendCopyInt(b, id)
		} else {
			b = append(b, copyNull...)
		}
	}
	b = append(b, '\t')
	b = appendCopyText(b, r.ExternalID)
	b = append(b, '\t')
	b = append(b, r.Type...)
	b = append(b, '\t')
	b = appendCopyText(b, r.FirstName)
	b = append(b, '\t')
	b = appendCopyText(b, r.LastName)
	b = append(b, '\t')
	b = appendCopyOptional(b, r.Grade)
	b = append(b, '\t')
	if r.HasRank {
		b = appendCopyInt(b, int64(r.GradeRank))
	} else {
		b = append(b, copyNull...)
	}
	b = append(b, '\t')
	b = appendCopyOptional(b, r.School)
	b = append(b, '\t')
	b = appendCopyOptional(b, r.Language)
	b = append(b, '\t')
	b = appendCopyText(b, r.Phones)
	b = append(b, '\t')
	b = appendCopyText(b, r.Emails)
	b = append(b, '\t')
	b = appendCopyText(b, r.Custom)
	b = append(b, '\t')
	b = appendCopyInt(b, hash)
	b = append(b, '\t')
	b = appendCopyText(b, r.FirstNameKey)
	b = append(b, '\t')
	b = appendCopyText(b, r.LastNameKey)
	b = append(b, '\t')
	b = appendCopyOptional(b, r.SchoolKey)
	b = append(b, '\t')
	b = appendCopyOptional(b, r.LanguageKey)
	b = append(b, '\t')
	b = appendCopyText(b, r.CustomKey)
	if p.newSegment {
		b = append(b, '\t')
		b = appendCopyInt(b, int64(line))
	}
	p.copyBuf = append(b, '\n')
}

// removals returns the recipients a FULL run removes: active, and not in
// the file (a key the file had, even in rejected or conflicting rows, stays).
func (p *pipeline) removals() []removal {
	if !p.spec.RemoveAbsent {
		return nil
	}
	var out []removal
	for i := range p.entries {
		e := &p.entries[i]
		if e.flags&flagExisting != 0 && e.flags&(flagRemoved|flagSeen) == 0 {
			out = append(out, removal{id: p.existing[i].id, key: p.index.key(int32(i))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

type removal struct {
	id  int64
	key string
}
