package oneroster

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/rollcall/rollcall/internal/importfile"
)

// Archive is an export's zip, read in place (an io.ReaderAt over the
// stored file) within the limits: what its entries may expand to, in all
// and relative to their compressed size, and how large its directory may
// be. A zip bomb fails the run with a message; it never costs the node
// its memory or disk.
type Archive struct {
	files    map[string]*zip.File // by base name: exports put their files at the root, some in a folder
	limits   importfile.Limits
	size     int64
	expanded int64 // bytes decompressed so far, all entries together
}

// Bounds of an export's zip directory: OneRoster has fewer than thirty
// files. archive/zip reads the whole directory into memory, one structure
// per entry, before anything else can be checked, so its size is checked
// first, from the end-of-directory record.
const (
	maxEntries       = 1000
	maxDirectorySize = 1 << 20
)

// OpenArchive opens the zip in r (size bytes).
func OpenArchive(r io.ReaderAt, size int64, limits importfile.Limits) (*Archive, error) {
	if err := checkDirectory(r, size); err != nil {
		return nil, err
	}
	// archive/zip reads directory records for as long as they parse,
	// whatever the end record declares: the reads it makes while opening
	// are bounded too, so that a directory longer than it says cannot
	// fill memory.
	budget := &budgetReaderAt{r: r, left: maxDirectorySize + 128<<10}
	zr, err := zip.NewReader(budget, size)
	if budget.left < 0 {
		return nil, &importfile.FileError{Message: fmt.Sprintf("the zip archive's directory is larger than it declares (more than %s): the file is damaged or crafted; nothing was applied", importfile.FormatBytes(maxDirectorySize))}
	}
	budget.left = -1 // opened: entries are read within the expansion limits instead
	if err == nil && len(zr.File) > maxEntries {
		return nil, &importfile.FileError{Message: fmt.Sprintf("the zip archive holds %d entries; a OneRoster export has a few dozen at most, and an archive of more than %d is refused", len(zr.File), maxEntries)}
	}
	if err != nil {
		var fe *importfile.FileError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &importfile.FileError{Message: fmt.Sprintf("the file is not a readable zip archive (%v): upload the OneRoster export's zip as the SIS produced it", err)}
	}
	a := &Archive{files: map[string]*zip.File{}, limits: limits, size: size}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || strings.HasPrefix(path.Base(f.Name), "._") { // macOS's resource forks
			continue
		}
		name := path.Base(f.Name)
		if prev, dup := a.files[name]; dup {
			return nil, &importfile.FileError{Message: fmt.Sprintf("the zip holds %s twice (%s and %s): which one is the export's cannot be told", name, prev.Name, f.Name)}
		}
		a.files[name] = f
	}
	return a, nil
}

// budgetReaderAt reads from r until left bytes are spent (then fails and
// sets left below 0); a negative left from the start means no bound.
type budgetReaderAt struct {
	r    io.ReaderAt
	left int64
}

var errOverBudget = errors.New("zip directory over its budget")

func (b *budgetReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if b.left == -1 {
		return b.r.ReadAt(p, off)
	}
	if int64(len(p)) > b.left {
		b.left = -2
		return 0, errOverBudget
	}
	n, err := b.r.ReadAt(p, off)
	b.left -= int64(n)
	return n, err
}

// checkDirectory reads the end-of-central-directory record (and, for a
// ZIP64 archive, its ZIP64 record) and refuses a directory that is too
// large. archive/zip offers no such bound; this is the part of the format
// it needs, by hand (APPNOTE.TXT 4.3.14–4.3.16).
func checkDirectory(r io.ReaderAt, size int64) error {
	const eocdLen, maxComment = 22, 65535
	tail := min(size, eocdLen+maxComment)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	at := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if at < 0 || len(buf)-at < eocdLen {
		return &importfile.FileError{Message: "the file is not a zip archive, or it is cut short (no end of central directory): upload the OneRoster export's zip as the SIS produced it"}
	}
	eocd := buf[at:]
	entries := uint64(binary.LittleEndian.Uint16(eocd[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(eocd[12:]))
	if entries == 0xFFFF || dirSize == 0xFFFFFFFF {
		// ZIP64: the locator sits just before the record.
		const locLen, z64Len = 20, 56
		locAt := size - tail + int64(at) - locLen
		loc := make([]byte, locLen)
		if locAt < 0 {
			return &importfile.FileError{Message: "the zip archive's ZIP64 directory locator is missing: the file is damaged"}
		}
		if _, err := r.ReadAt(loc, locAt); err != nil {
			return err
		}
		if !bytes.HasPrefix(loc, []byte("PK\x06\x07")) {
			return &importfile.FileError{Message: "the zip archive's ZIP64 directory locator is missing: the file is damaged"}
		}
		off := binary.LittleEndian.Uint64(loc[8:])
		if off > uint64(size-z64Len) {
			return &importfile.FileError{Message: "the zip archive's ZIP64 directory is out of the file: the file is damaged"}
		}
		z64 := make([]byte, z64Len)
		if _, err := r.ReadAt(z64, int64(off)); err != nil {
			return err
		}
		if !bytes.HasPrefix(z64, []byte("PK\x06\x06")) {
			return &importfile.FileError{Message: "the zip archive's ZIP64 directory is missing: the file is damaged"}
		}
		entries = binary.LittleEndian.Uint64(z64[32:])
		dirSize = binary.LittleEndian.Uint64(z64[40:])
	}
	if entries > maxEntries || dirSize > maxDirectorySize {
		return &importfile.FileError{Message: fmt.Sprintf("the zip archive lists %d entries (a %s directory); a OneRoster export has a few dozen at most, and an archive of more than %d is refused",
			entries, importfile.FormatBytes(int64(dirSize)), maxEntries)}
	}
	return nil
}

// Has reports whether the archive holds the file name.
func (a *Archive) Has(name string) bool { _, ok := a.files[name]; return ok }

// Names returns the archive's file names.
func (a *Archive) Names() []string {
	out := make([]string, 0, len(a.files))
	for n := range a.files {
		out = append(out, n)
	}
	return out
}

// Open opens file name of the archive for reading, decompressed within
// the limits.
func (a *Archive) Open(name string) (io.ReadCloser, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, &importfile.FileError{Message: name + ": not in the zip archive"}
	}
	if max := a.limits.MaxDecompressedBytes; max > 0 && f.UncompressedSize64 > uint64(max-a.expanded) {
		return nil, a.tooLarge(name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, &importfile.FileError{Message: fmt.Sprintf("%s: cannot be read from the zip archive (%v)", name, err)}
	}
	// The compressed size the directory declares bounds what is read of
	// the archive for the entry, but it is the archive's word: no more
	// than the archive itself.
	compressed := int64(min(f.CompressedSize64, uint64(a.size)))
	e := &entryReader{rc: rc, a: a, name: name, compressed: compressed}
	// A file gzip-compressed inside the zip would expand past what the
	// archive counts (importfile unwraps gzip within its own limits).
	br := bufio.NewReader(e)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		rc.Close()
		return nil, &importfile.FileError{File: name, Message: name + ": is gzip-compressed inside the zip; put the file in the zip as it is (the zip compresses it)"}
	}
	return struct {
		io.Reader
		io.Closer
	}{br, e}, nil
}

func (a *Archive) tooLarge(name string) error {
	return &importfile.FileError{Message: fmt.Sprintf("%s: the export expands to more than %s when decompressed (the limit, ROLLCALL_MAX_DECOMPRESSED_BYTES): nothing was applied",
		name, importfile.FormatBytes(a.limits.MaxDecompressedBytes))}
}

// ratioFloor is how far an entry expands before its compression ratio is
// judged (importfile's rule for gzip).
const ratioFloor = 64 << 20

// entryReader reads one entry, counting what it expands to: the sizes the
// directory declares are the archive's word, not a bound.
type entryReader struct {
	rc         io.ReadCloser
	a          *Archive
	name       string
	n          int64
	compressed int64
}

func (e *entryReader) Read(p []byte) (int, error) {
	n, err := e.rc.Read(p)
	e.n += int64(n)
	e.a.expanded += int64(n)
	if max := e.a.limits.MaxDecompressedBytes; max > 0 && e.a.expanded > max {
		return 0, e.a.tooLarge(e.name)
	}
	if ratio := e.a.limits.MaxCompressionRatio; ratio > 0 && e.n > ratioFloor && e.n > ratio*max(e.compressed, 1) {
		return 0, &importfile.FileError{Message: fmt.Sprintf("%s: expands more than %d times when decompressed (%s from %s): a compression bomb; nothing was applied (the limit is ROLLCALL_MAX_COMPRESSION_RATIO)",
			e.name, ratio, importfile.FormatBytes(e.n), importfile.FormatBytes(e.compressed))}
	}
	if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) {
		return n, &importfile.FileError{Message: fmt.Sprintf("%s: the zip archive is damaged (%v)", e.name, err)}
	}
	return n, err
}

func (e *entryReader) Close() error { return e.rc.Close() }
