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
	csv       *csv.Reader
	counter   *countingReader
	notes     *notes
	lastLine  int
	win1252   int
	firstWin  int
	decodeBuf []string
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
func newRecordReader(r io.Reader, notes *notes) (*recordReader, error) {
	counter := &countingReader{r: r}
	br := bufio.NewReaderSize(counter, sniffSize)
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
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, &FileError{Message: "the gzip-compressed file is damaged: " + err.Error()}
		}
	}
	if err := checkTextHead(head); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
		head = head[3:]
	}
	c := csv.NewReader(br)
	c.Comma = sniffDelimiter(head)
	c.FieldsPerRecord = -1
	c.ReuseRecord = true
	return &recordReader{csv: c, counter: counter, notes: notes}, nil
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

// sniffDelimiter picks the delimiter of the header line: a comma unless the
// line has none and has tabs, semicolons or pipes.
func sniffDelimiter(head []byte) rune {
	line := head
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		line = head[:i]
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
// only itself is returned as a *rowError; one that makes the rest of the
// file unreadable as a *FileError.
func (rr *recordReader) Read() ([]string, int, error) {
	rec, err := rr.csv.Read()
	line, _ := rr.csv.FieldPos(0)
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, rr.parseError(pe)
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		return nil, 0, fmt.Errorf("read file: %w", err)
	}
	rr.lastLine = line
	for i, f := range rec {
		if !utf8.ValidString(f) {
			rec[i], _ = charmap.Windows1252.NewDecoder().String(f)
			if rr.win1252 == 0 {
				rr.firstWin = line
			}
			rr.win1252++
		}
	}
	return rec, line, nil
}

func (rr *recordReader) parseError(pe *csv.ParseError) error {
	switch {
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return &FileError{Line: pe.StartLine, Message: fmt.Sprintf(
			"a quoted field starting on this line (column %d) never closes properly, swallowing lines %d to %d: check for an unbalanced \" character",
			pe.Column, pe.StartLine, pe.Line)}
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
// mapping).
func ReadHeader(r io.Reader) ([]string, error) {
	rr, err := newRecordReader(r, &notes{})
	if err != nil {
		return nil, err
	}
	return readHeader(rr)
}
