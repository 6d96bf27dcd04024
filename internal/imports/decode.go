package imports

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// FileError is a problem with the file as a whole (or a line that makes the
// rest of it unreadable): the run fails and nothing is applied.
type FileError struct {
	Line    int // 0 when not about a line
	Column  string
	Message string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// sniffSize is how much of a file is examined before parsing.
const sniffSize = 64 << 10

// recordReader reads CSV records from a district export as it arrives:
// gzip is unwrapped, a UTF-8 byte-order mark skipped, the delimiter (comma,
// tab, semicolon or pipe) detected from the header line, and fields that
// are not valid UTF-8 decoded as Windows-1252 (what Excel on Windows writes),
// field by field, so a file that is mostly UTF-8 keeps its UTF-8. The file
// is never held in memory.
type recordReader struct {
	csv      *csv.Reader
	counter  *countingReader
	notes    *notes
	gzipped  bool
	win1252  int
	firstWin int
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

// newRecordReader checks the start of r and prepares to read records.
// partial says r is only the beginning of the file (at upload, to read the
// header), so that a compressed stream may end early.
func newRecordReader(r io.Reader, notes *notes, partial bool) (*recordReader, error) {
	counter := &countingReader{r: r}
	br := bufio.NewReaderSize(counter, sniffSize)
	gzipped := false
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read file: %w", err)
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FileError{Message: "the file looks gzip-compressed but cannot be decompressed: " + err.Error()}
		}
		br = bufio.NewReaderSize(gz, sniffSize)
		head, err = br.Peek(sniffSize)
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
		notes.warn("the file ends its lines with CR only (old Mac format); they were read as line breaks")
	}
	c := csv.NewReader(src)
	c.Comma = sniffDelimiter(head)
	c.FieldsPerRecord = -1
	c.ReuseRecord = true
	return &recordReader{csv: c, counter: counter, notes: notes, gzipped: gzipped}, nil
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
// only itself is returned as a *rowError, with whatever fields could be read
// (so that its key is still known); one that makes the rest of the file
// unreadable as a *FileError.
func (rr *recordReader) Read() ([]string, int, error) {
	rec, err := rr.csv.Read()
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			if ferr := rr.decode(rec, pe.StartLine); ferr != nil {
				return nil, pe.StartLine, ferr
			}
			return rec, pe.StartLine, rr.parseError(pe)
		case errors.Is(err, io.EOF):
			return nil, 0, io.EOF
		case rr.gzipped:
			return nil, 0, &FileError{Message: "the gzip-compressed file is damaged: " + err.Error()}
		}
		return nil, 0, fmt.Errorf("read file: %w", err)
	}
	line, _ := rr.csv.FieldPos(0)
	if ferr := rr.decode(rec, line); ferr != nil {
		return nil, line, ferr
	}
	return rec, line, nil
}

// decode makes every field valid UTF-8 (reading invalid ones as
// Windows-1252) and refuses NUL bytes, which PostgreSQL's text cannot hold.
func (rr *recordReader) decode(rec []string, line int) error {
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

func (rr *recordReader) parseError(pe *csv.ParseError) error {
	switch {
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return &FileError{Line: pe.StartLine, Message: fmt.Sprintf(
			"a quoted field starting on this line never closes properly, swallowing lines %d to %d: check for an unbalanced \" character",
			pe.StartLine, pe.Line)}
	case errors.Is(pe.Err, csv.ErrQuote):
		return &rowError{Line: pe.StartLine, Message: fmt.Sprintf("malformed quoted field at column %d: a \" inside a quoted field must be doubled", pe.Column)}
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return &rowError{Line: pe.StartLine, Message: fmt.Sprintf("a \" appears inside an unquoted field at column %d: quote the field and double the \"", pe.Column)}
	}
	return &rowError{Line: pe.StartLine, Message: pe.Err.Error()}
}

// BytesRead is how much of the underlying file has been consumed.
func (rr *recordReader) BytesRead() int64 { return rr.counter.n }

// finish records the encoding warning, if any.
func (rr *recordReader) finish() {
	if rr.win1252 > 0 {
		rr.notes.warn(fmt.Sprintf("%d field(s) were not valid UTF-8 and were read as Windows-1252 (first on line %d); save the export as CSV UTF-8 to avoid this", rr.win1252, rr.firstWin))
	}
}

// readHeader reads the first record as the header, trimmed.
func readHeader(rr *recordReader) ([]string, error) {
	rec, _, err := rr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Message: "the file is empty"}
	}
	var re *rowError
	if errors.As(err, &re) {
		return nil, &FileError{Line: 1, Message: "the header line cannot be read: " + re.Message}
	}
	if err != nil {
		return nil, err
	}
	header := make([]string, len(rec))
	for i, h := range rec {
		header[i] = strings.TrimSpace(h)
	}
	return header, nil
}

// ReadHeader reads just the header of a file (at upload, for proposing a
// mapping); partial says r is only the file's beginning.
func ReadHeader(r io.Reader, partial bool) ([]string, error) {
	rr, err := newRecordReader(r, &notes{}, partial)
	if err != nil {
		return nil, err
	}
	return readHeader(rr)
}
