// Package filestore keeps the files that arrive for imports, as they
// arrived: stored in PostgreSQL in 1 MB chunks by COPY while the upload
// streams in (never held whole in memory), with their size, SHA-256, line
// count and header, and streamed back for a run by any node.
package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importfile"
)

// File is a file as it arrived for an import.
type File struct {
	bun.BaseModel `bun:"table:import_files,alias:f"`

	ID         int64     `bun:",pk,autoincrement"`
	ImportID   int64     `bun:",notnull"`
	Name       string    `bun:",notnull"`
	Size       int64     `bun:",notnull"`
	SHA256     []byte    `bun:"sha256,notnull"`
	LineCount  int64     `bun:",notnull"`
	Header     []string  `bun:",array,notnull"`
	UploadedBy *int64    ``
	UploadedAt time.Time `bun:",nullzero,notnull,default:current_timestamp"`
}

// chunkSize is the size of the stored pieces of a file.
const chunkSize = 1 << 20

// errTooLarge reports an upload over the limit.
var errTooLarge = errors.New("file too large")

// chunkSource streams a reader into import_file_chunks rows for COPY,
// hashing, measuring and counting lines on the way, and keeping the first
// bytes for reading the header.
type chunkSource struct {
	r      io.Reader
	limits importfile.Limits
	fileID int64
	limit  int64
	buf    []byte
	seq    int32
	n      int
	size   int64
	lines  int64
	lastNL bool
	sha    hash.Hash
	head   []byte
	err    error
	values []any
	gz     *importfile.LineCounter // set for gzip-compressed files
	zip    bool                    // a zip archive: no lines to count
}

func (s *chunkSource) Next() bool {
	if s.err != nil {
		return false
	}
	n, err := io.ReadFull(s.r, s.buf)
	if n > 0 {
		s.n = n
		chunk := s.buf[:n]
		s.size += int64(n)
		if s.limit > 0 && s.size > s.limit {
			s.err = errTooLarge
			return false
		}
		s.sha.Write(chunk)
		if s.seq == 0 && !s.zip && n >= 2 && chunk[0] == 0x1f && chunk[1] == 0x8b {
			s.gz = importfile.NewLineCounter(s.limits)
		}
		switch {
		case s.zip: // no lines to count
		case s.gz != nil:
			s.gz.Write(chunk)
		default:
			s.lines += int64(bytes.Count(chunk, []byte{'\n'}))
			s.lastNL = chunk[n-1] == '\n'
		}
		if len(s.head) < importfile.SniffSize {
			s.head = append(s.head, chunk[:min(n, importfile.SniffSize-len(s.head))]...)
		}
		s.seq++
		s.values[0], s.values[1], s.values[2] = s.fileID, s.seq, chunk
		return true
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		s.err = err
	}
	return false
}

func (s *chunkSource) Values() ([]any, error) { return s.values, nil }
func (s *chunkSource) Err() error             { return s.err }

// Content is what an import's files hold.
type Content int

const (
	// Text: a district file, CSV-like text (possibly gzip-compressed).
	Text Content = iota
	// Zip: a zip archive (a OneRoster export), read at run time by
	// internal/oneroster through OpenAt.
	Zip
)

// zipMagic are the signatures a zip archive starts with: a local file
// header, or the end of the central directory of an empty archive.
var zipMagic = [][]byte{[]byte("PK\x03\x04"), []byte("PK\x05\x06")}

// Store writes f, its content read from r, and its metadata in tx, within
// limit bytes (0: none). Text is checked to be CSV-like (not empty, not a
// spreadsheet or binary), and its lines are counted and its header kept; a
// Zip is checked to start as a zip archive (its entries are read by the
// run).
func Store(ctx context.Context, tx *db.Tx, f *File, r io.Reader, limit int64, limits importfile.Limits, content Content) error {
	if _, err := tx.NewInsert().Model(f).Returning("*").Exec(ctx); err != nil {
		return fmt.Errorf("insert file: %w", err)
	}
	src := &chunkSource{r: r, limits: limits, fileID: f.ID, limit: limit, buf: make([]byte, chunkSize), sha: sha256.New(), values: make([]any, 3), zip: content == Zip}
	_, err := tx.CopyFrom(ctx, "import_file_chunks", []string{"file_id", "seq", "data"}, src)
	if src.gz != nil {
		src.lines, src.lastNL = src.gz.Count(), true
	}
	if err != nil {
		// pgx reports a source's failure as the server's "COPY failed";
		// the source's own error says what happened.
		if src.err != nil {
			err = src.err
		}
		if errors.Is(err, errTooLarge) || apperr.CodeOf(err) == apperr.CodeTooLarge {
			return apperr.TooLarge("the file is larger than the upload limit of %d bytes", limit)
		}
		return fmt.Errorf("store file: %w", err)
	}
	f.Size = src.size
	f.SHA256 = src.sha.Sum(nil)
	if content == Zip {
		if !slices.ContainsFunc(zipMagic, func(m []byte) bool { return bytes.HasPrefix(src.head, m) }) {
			return apperr.Invalid("file", "this import reads a OneRoster export: upload the export's zip file (manifest.csv, users.csv, …); this file is not a zip archive")
		}
		f.LineCount, f.Header = 0, []string{}
		return updateStored(ctx, tx, f)
	}
	header, err := importfile.ReadHeader(bytes.NewReader(src.head), src.size > int64(len(src.head)), limits)
	if err != nil {
		var fe *importfile.FileError
		if errors.As(err, &fe) {
			return apperr.Invalid("file", "%s", fe.Message)
		}
		return err
	}
	f.LineCount = src.lines
	if !src.lastNL && src.size > 0 {
		f.LineCount++
	}
	f.Header = header
	return updateStored(ctx, tx, f)
}

// updateStored records what Store measured of f.
func updateStored(ctx context.Context, tx *db.Tx, f *File) error {
	if _, err := tx.NewUpdate().Model(f).Column("size", "sha256", "line_count", "header").WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("update file: %w", err)
	}
	return nil
}

// fileReader streams a stored file from the database, a chunk at a time, on
// a connection of its own.
type fileReader struct {
	conn *pgxpool.Conn
	rows pgx.Rows
	cur  []byte
	err  error
}

// Open starts reading file id, on a connection of its own; Close
// releases it.
func Open(ctx context.Context, pool *pgxpool.Pool, id int64) (io.ReadCloser, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("open file %d: %w", id, err)
	}
	rows, err := conn.Query(ctx, `SELECT data FROM import_file_chunks WHERE file_id = $1 ORDER BY seq`, id)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("open file %d: %w", id, err)
	}
	return &fileReader{conn: conn, rows: rows}, nil
}

func (f *fileReader) Read(p []byte) (int, error) {
	for len(f.cur) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if !f.rows.Next() {
			f.err = f.rows.Err()
			if f.err == nil {
				f.err = io.EOF
			}
			return 0, f.err
		}
		// RawValues is only valid until the next call to Next, which
		// happens only after f.cur is used up.
		f.cur = f.rows.RawValues()[0]
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// Close releases the connection.
func (f *fileReader) Close() error {
	f.rows.Close()
	f.conn.Release()
	return nil
}

// Get returns the file with id.
func Get(ctx context.Context, idb bun.IDB, id int64) (*File, error) {
	f := new(File)
	err := idb.NewSelect().Model(f).Where("id = ?", id).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("file", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get file %d: %w", id, err)
	}
	return f, nil
}

// GetMany returns files by id.
func GetMany(ctx context.Context, idb bun.IDB, ids []int64) ([]File, error) {
	var out []File
	if err := idb.NewSelect().Model(&out).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get files: %w", err)
	}
	return out, nil
}

// CountOf counts import importID's files.
func CountOf(ctx context.Context, idb bun.IDB, importID int64) (int, error) {
	n, err := idb.NewSelect().Model((*File)(nil)).Where("import_id = ?", importID).Count(ctx)
	return int(n), err
}

// ReaderAt reads a stored file at any offset, a chunk at a time, each
// chunk fetched on a pooled connection of its own (so that the caller's
// transaction may be busy, as a run's is while it copies rows): what a zip
// archive's reader needs (its directory is at the end) without the archive
// held in memory or written to disk. It keeps the last two chunks read.
type ReaderAt struct {
	ctx  context.Context // the run's: ReadAt has no context of its own
	pool *pgxpool.Pool
	id   int64
	size int64

	mu    sync.Mutex
	cache [2]cachedChunk
	older int // the cache slot to replace next
}

type cachedChunk struct {
	seq  int32
	data []byte
}

// OpenAt returns a ReaderAt of f, reading with ctx.
func OpenAt(ctx context.Context, pool *pgxpool.Pool, f *File) *ReaderAt {
	return &ReaderAt{ctx: ctx, pool: pool, id: f.ID, size: f.Size}
}

// Size is the file's size in bytes.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("filestore: negative offset")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) && off < r.size {
		data, err := r.chunk(int32(off/chunkSize) + 1) // chunks are numbered from 1
		if err != nil {
			return n, err
		}
		at := int(off % chunkSize)
		if at >= len(data) {
			return n, fmt.Errorf("read file %d: chunk %d is shorter than the file's size says", r.id, off/chunkSize+1)
		}
		c := copy(p[n:], data[at:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *ReaderAt) chunk(seq int32) ([]byte, error) {
	for _, c := range r.cache {
		if c.seq == seq && c.data != nil {
			return c.data, nil
		}
	}
	slot := &r.cache[r.older]
	r.older = 1 - r.older
	data := slot.data[:0]
	if err := r.pool.QueryRow(r.ctx, `SELECT data FROM import_file_chunks WHERE file_id = $1 AND seq = $2`, r.id, seq).Scan(&data); err != nil {
		return nil, fmt.Errorf("read file %d, chunk %d: %w", r.id, seq, err)
	}
	slot.seq, slot.data = seq, data
	return data, nil
}
