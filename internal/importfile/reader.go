// Package importfile reads a district's export as it arrives: gzip is
// unwrapped, a byte-order mark skipped, the delimiter sniffed, invalid UTF-8
// read as Windows-1252, and what reading may cost bounded (Limits), whatever
// the file holds. It knows CSV, not recipients, users or the database.
package importfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// FileError is a problem with the file as a whole (or a line that makes the
// rest of it unreadable): the run fails and nothing is applied.
type FileError struct {
	File    string // the file of an archive it is about (see RowError.File)
	Line    int    // 0 when not about a line
	Column  string
	Message string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// SniffSize is how much of a file is examined before parsing (and kept of
// an upload to read its header).
const SniffSize = 64 << 10

// Limits bound what reading one file may cost, whatever the file holds: a
// district's nightly file comes from a script nobody watches, and a
// truncated export, a botched compression or a malicious upload must cost
// a failed run with a clear message, never the node.
type Limits struct {
	// MaxDecompressedBytes bounds what a compressed file may expand to.
	MaxDecompressedBytes int64
	// MaxCompressionRatio bounds how many times a compressed file may
	// expand (checked once it has expanded past ratioFloor): district
	// exports compress 5 to 20 times; a file of blank lines, a thousand.
	MaxCompressionRatio int64
	// MaxLineBytes bounds one line (a record is read whole into memory).
	MaxLineBytes int
	// MaxColumns bounds the header.
	MaxColumns int
	// RunMemoryBytes bounds what a run holds per key of the import and
	// the file (the key index and the entries beside it).
	RunMemoryBytes int64
}

const (
	// ratioFloor is how far a file expands before its compression ratio
	// is judged: small files of repetitive text may compress 100 times
	// and cost nothing.
	ratioFloor = 64 << 20
	// DefaultMaxCompressionRatio is Limits.MaxCompressionRatio's default.
	DefaultMaxCompressionRatio = 100
	// DefaultMaxLineBytes is Limits.MaxLineBytes's default: a 1 MB field
	// is fine; a file without line breaks is not.
	DefaultMaxLineBytes = 16 << 20
	// DefaultMaxColumns is Limits.MaxColumns's default.
	DefaultMaxColumns = 1000
	// DefaultRunMemoryBytes is Limits.RunMemoryBytes's default: about ten
	// million keys.
	DefaultRunMemoryBytes = 1 << 30
)

// LimitsFor returns the limits for uploads of at most maxUpload bytes, a
// file expanding to at most maxDecompressed (0: four times maxUpload) and
// at most ratio times (0: no limit), a run holding at most runMemory bytes
// for its keys (0: the default).
func LimitsFor(maxUpload, maxDecompressed, ratio, runMemory int64) Limits {
	l := DefaultLimits(maxUpload)
	if maxDecompressed > 0 {
		l.MaxDecompressedBytes = maxDecompressed
	}
	l.MaxCompressionRatio = ratio
	if runMemory > 0 {
		l.RunMemoryBytes = runMemory
	}
	return l
}

// DefaultLimits returns the limits for uploads of at most maxUpload bytes:
// a file may expand to four times that.
func DefaultLimits(maxUpload int64) Limits {
	return Limits{MaxDecompressedBytes: 4 * maxUpload, MaxCompressionRatio: DefaultMaxCompressionRatio,
		MaxLineBytes: DefaultMaxLineBytes, MaxColumns: DefaultMaxColumns, RunMemoryBytes: DefaultRunMemoryBytes}
}

// inflated reads a decompressed stream within the limits: its size, and
// its ratio to the compressed bytes consumed (compressed).
type inflated struct {
	r          io.Reader
	compressed *countingReader
	n          int64
	limits     Limits
}

func (f *inflated) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.n += int64(n)
	if max := f.limits.MaxDecompressedBytes; max > 0 && f.n > max {
		return 0, &FileError{Message: fmt.Sprintf("the file expands to more than %s when decompressed (the limit, ROLLCALL_MAX_DECOMPRESSED_BYTES): nothing was applied",
			FormatBytes(max))}
	}
	if ratio := f.limits.MaxCompressionRatio; ratio > 0 && f.n > ratioFloor && f.n > ratio*max(f.compressed.n, 1) {
		return 0, &FileError{Message: fmt.Sprintf("the file expands more than %d times when decompressed (%s from the first %s): a compression bomb, or an export of nothing but blank lines; nothing was applied (the limit is ROLLCALL_MAX_COMPRESSION_RATIO)",
			ratio, FormatBytes(f.n), FormatBytes(f.compressed.n))}
	}
	return n, err
}

// boundedText fails a file with a line, or a record, longer than max
// bytes: encoding/csv reads a record whole, so a file without line breaks,
// or with a quote that never closes, would otherwise be read into memory
// whole. A record is what one csv.Read consumes (Reader.Read marks
// its start); line breaks are not counted in it, since csv skips blank
// lines within one Read and they cost it nothing.
type boundedText struct {
	r      io.Reader
	max    int   // 0: no limit
	run    int   // bytes since the last line break
	record int   // bytes other than line breaks since the record started
	lines  int64 // line breaks seen
	start  int   // the line the current record starts on (or after)
	// Set by watch: csv skips blank lines within one Read, so a file of
	// nothing but line breaks is read in one call: progress and
	// cancellation are looked after here, at every chunk.
	ctx      context.Context
	progress *atomic.Int64
}

func (b *boundedText) startRecord(line int) { b.record, b.start = 0, line }

func (b *boundedText) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	chunk := p[:n]
	breaks := bytes.Count(chunk, []byte{'\n'})
	b.record += n - breaks - bytes.Count(chunk, []byte{'\r'})
	if breaks == 0 {
		b.run += n
	} else if b.run += bytes.IndexByte(chunk, '\n'); b.run <= b.max {
		b.lines += int64(breaks)
		b.run = n - bytes.LastIndexByte(chunk, '\n') - 1
	}
	if b.progress != nil {
		b.progress.Store(b.lines)
	}
	if b.ctx != nil {
		if cerr := context.Cause(b.ctx); cerr != nil {
			return 0, cerr
		}
	}
	switch {
	case b.max <= 0:
	case b.run > b.max:
		return 0, &FileError{Line: int(b.lines) + 1, Message: fmt.Sprintf("the line is longer than %s: the file has no line breaks, or is not a CSV export; nothing was applied",
			FormatBytes(int64(b.max)))}
	case b.record > b.max+SniffSize: // what csv reads ahead aside
		return 0, &FileError{Line: b.start, Message: fmt.Sprintf("the record starting on this line (or after blank lines) is longer than %s: a quoted field that never closes swallows the rest of the file; check for an unbalanced \" character; nothing was applied",
			FormatBytes(int64(b.max)))}
	}
	return n, err
}

// FormatBytes writes n as people read it ("4.0 GB").
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Reader reads CSV records from a district export as it arrives:
// gzip is unwrapped, a UTF-8 byte-order mark skipped, the delimiter (comma,
// tab, semicolon or pipe) detected from the header line, and fields that
// are not valid UTF-8 decoded as Windows-1252 (what Excel on Windows writes),
// field by field, so a file that is mostly UTF-8 keeps its UTF-8. The file
// is never held in memory.
type Reader struct {
	csv        *csv.Reader
	counter    *countingReader
	notes      *Notes
	gzipped    bool
	win1252    int
	firstWin   int
	maxColumns int
	bounded    *boundedText
	nextLine   int // the line after the last record read
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewReader checks the start of r and prepares to read records.
// partial says r is only the beginning of the file (at upload, to read the
// header), so that a compressed stream may end early.
func NewReader(r io.Reader, notes *Notes, partial bool, limits Limits) (*Reader, error) {
	counter := &countingReader{r: r}
	br := bufio.NewReaderSize(counter, SniffSize)
	gzipped := false
	head, err := br.Peek(SniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read file: %w", err)
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FileError{Message: "the file looks gzip-compressed but cannot be decompressed: " + err.Error()}
		}
		br = bufio.NewReaderSize(&inflated{r: gz, compressed: counter, limits: limits}, SniffSize)
		head, err = br.Peek(SniffSize)
		// At upload only the file's first bytes are given (to read the
		// header), which decompress to a cut-short stream: that is fine.
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) && !(partial && errors.Is(err, io.ErrUnexpectedEOF)) {
			return nil, &FileError{Message: "the gzip-compressed file is damaged: " + err.Error()}
		}
		gzipped = true
	}
	if err := checkTextHead(head); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
		head = head[3:]
	}
	var src io.Reader = br
	if bytes.IndexByte(head, '\r') >= 0 && bytes.IndexByte(head, '\n') < 0 {
		// Old Mac line endings (Excel's "CSV (Macintosh)"): a lone CR
		// ends a line, which encoding/csv does not know.
		src = crToLF{br}
		notes.Warn("the file ends its lines with CR only (old Mac format); they were read as line breaks")
	}
	bounded := &boundedText{r: src, max: limits.MaxLineBytes}
	src = bounded
	c := csv.NewReader(src)
	c.Comma = sniffDelimiter(head)
	c.FieldsPerRecord = -1
	c.ReuseRecord = true
	return &Reader{csv: c, counter: counter, notes: notes, gzipped: gzipped, maxColumns: limits.MaxColumns, bounded: bounded}, nil
}

// crToLF turns every CR into LF.
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// checkTextHead refuses what is plainly not a CSV text file, with a message
// that says what it is instead.
func checkTextHead(head []byte) error {
	switch {
	case len(head) == 0:
		return &FileError{Message: "the file is empty"}
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return &FileError{Message: "the file is a ZIP archive (an Excel .xlsx workbook?), not CSV: export the sheet as CSV"}
	case bytes.HasPrefix(head, []byte("\xd0\xcf\x11\xe0")):
		return &FileError{Message: "the file is an old Excel .xls workbook, not CSV: export the sheet as CSV"}
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return &FileError{Message: "the file is compressed twice (gzip inside gzip): compress the CSV export once"}
	case bytes.HasPrefix(head, []byte("%PDF")):
		return &FileError{Message: "the file is a PDF, not CSV"}
	case bytes.HasPrefix(head, []byte("\xff\xfe")) || bytes.HasPrefix(head, []byte("\xfe\xff")):
		return &FileError{Message: "the file is UTF-16 encoded: export it as CSV UTF-8 (or Windows-1252)"}
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return &FileError{Message: fmt.Sprintf("the file is not text (it has a NUL byte at offset %d): upload the CSV export", i)}
	}
	return nil
}

// sniffDelimiter picks the delimiter of the header line (the first line
// that is not blank): a comma unless the line has none and has tabs,
// semicolons or pipes.
func sniffDelimiter(head []byte) rune {
	line := bytes.TrimLeft(head, " \t\r\n")
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	best, bestCount := ',', bytes.Count(line, []byte{','})
	if bestCount > 0 {
		return best
	}
	for _, d := range []rune{'\t', ';', '|'} {
		if n := bytes.Count(line, []byte(string(d))); n > bestCount {
			best, bestCount = d, n
		}
	}
	return best
}

// Read returns the next record and its first line. The slice is reused by
// the next call. At the end it returns io.EOF. A malformed line that spoils
// only itself is returned as a *RowError, with whatever fields could be read
// (so that its key is still known); one that makes the rest of the file
// unreadable as a *FileError.
func (rr *Reader) Read() ([]string, int, error) {
	rr.bounded.startRecord(max(rr.nextLine, 1))
	rec, err := rr.csv.Read()
	if err != nil && rr.bounded.ctx != nil && rr.bounded.ctx.Err() != nil {
		return nil, 0, context.Cause(rr.bounded.ctx) // canceled, not a damaged file
	}
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			rr.nextLine = pe.Line + 1
			if ferr := rr.decode(rec, pe.StartLine); ferr != nil {
				return nil, pe.StartLine, ferr
			}
			return rec, pe.StartLine, rr.parseError(pe)
		case errors.Is(err, io.EOF):
			return nil, 0, io.EOF
		case errors.As(err, new(*FileError)):
			return nil, 0, err
		case rr.gzipped:
			return nil, 0, &FileError{Message: "the gzip-compressed file is damaged: " + err.Error()}
		}
		return nil, 0, fmt.Errorf("read file: %w", err)
	}
	line, _ := rr.csv.FieldPos(0)
	end, _ := rr.csv.FieldPos(len(rec) - 1)
	rr.nextLine = end + 1
	if ferr := rr.decode(rec, line); ferr != nil {
		return nil, line, ferr
	}
	return rec, line, nil
}

// decode makes every field valid UTF-8 (reading invalid ones as
// Windows-1252) and refuses NUL bytes, which PostgreSQL's text cannot hold.
func (rr *Reader) decode(rec []string, line int) error {
	for i, f := range rec {
		if strings.IndexByte(f, 0) >= 0 {
			return &FileError{Line: line, Message: "the line has a NUL byte: the file is not plain text"}
		}
		if !utf8.ValidString(f) {
			rec[i], _ = charmap.Windows1252.NewDecoder().String(f)
			if rr.win1252 == 0 {
				rr.firstWin = line
			}
			rr.win1252++
		}
	}
	return nil
}

func (rr *Reader) parseError(pe *csv.ParseError) error {
	switch {
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return &FileError{Line: pe.StartLine, Message: fmt.Sprintf(
			"a quoted field starting on this line never closes properly, swallowing lines %d to %d: check for an unbalanced \" character",
			pe.StartLine, pe.Line)}
	case errors.Is(pe.Err, csv.ErrQuote):
		return &RowError{Line: pe.StartLine, Message: fmt.Sprintf("malformed quoted field at column %d: a \" inside a quoted field must be doubled", pe.Column)}
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return &RowError{Line: pe.StartLine, Message: fmt.Sprintf("a \" appears inside an unquoted field at column %d: quote the field and double the \"", pe.Column)}
	}
	return &RowError{Line: pe.StartLine, Message: pe.Err.Error()}
}

// Watch makes reading stop with ctx's cause once ctx is done, and keeps
// lines up to date with the lines read so far (blank ones included).
func (rr *Reader) Watch(ctx context.Context, lines *atomic.Int64) {
	rr.bounded.ctx, rr.bounded.progress = ctx, lines
}

// BytesRead is how much of the underlying file has been consumed.
func (rr *Reader) BytesRead() int64 { return rr.counter.n }

// Finish records the encoding warning, if any.
func (rr *Reader) Finish() {
	if rr.win1252 > 0 {
		rr.notes.Warn(fmt.Sprintf("%d field(s) were not valid UTF-8 and were read as Windows-1252 (first on line %d); save the export as CSV UTF-8 to avoid this", rr.win1252, rr.firstWin))
	}
}

// Header reads the first record as the header, trimmed.
func (rr *Reader) Header() ([]string, error) {
	rec, _, err := rr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Message: "the file is empty"}
	}
	var re *RowError
	if errors.As(err, &re) {
		return nil, &FileError{Line: 1, Message: "the header line cannot be read: " + re.Message}
	}
	if err != nil {
		return nil, err
	}
	if rr.maxColumns > 0 && len(rec) > rr.maxColumns {
		return nil, &FileError{Line: 1, Message: fmt.Sprintf("the header has %d columns, more than the %d a file may have: is this the right file?", len(rec), rr.maxColumns)}
	}
	header := make([]string, len(rec))
	for i, h := range rec {
		header[i] = strings.TrimSpace(h)
	}
	return header, nil
}

// ReadHeader reads just the header of a file (at upload, for proposing a
// mapping); partial says r is only the file's beginning.
func ReadHeader(r io.Reader, partial bool, limits Limits) ([]string, error) {
	rr, err := NewReader(r, &Notes{}, partial, limits)
	if err != nil {
		return nil, err
	}
	return rr.Header()
}

// AllBlank reports whether every field of rec is blank: a blank line, or
// one of the lines of bare commas spreadsheets leave.
func AllBlank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
