package importfile

import (
	"bytes"
	"compress/gzip"
	"io"
)

// LineCounter counts the lines of a gzip-compressed upload by decompressing
// a copy of it on the way in (Write), so that progress has a total. It stops at
// the limits a run reads the file within (the run then fails, saying why):
// the count is only an estimate for progress.
type LineCounter struct {
	w     *io.PipeWriter
	lines chan int64
}

// NewLineCounter starts counting.
func NewLineCounter(limits Limits) *LineCounter {
	r, w := io.Pipe()
	g := &LineCounter{w: w, lines: make(chan int64, 1)}
	go func() {
		var n int64
		counter := &countingReader{r: r}
		if zr, err := gzip.NewReader(counter); err == nil {
			in := &inflated{r: zr, compressed: counter, limits: limits}
			buf := make([]byte, 64<<10)
			for {
				k, err := in.Read(buf)
				n += int64(bytes.Count(buf[:k], []byte{'\n'}))
				if err != nil {
					break
				}
			}
		}
		_, _ = io.Copy(io.Discard, r) // drain, so the writer never blocks
		g.lines <- n
	}()
	return g
}

// Write hands the counter the next bytes of the compressed file.
func (g *LineCounter) Write(b []byte) { _, _ = g.w.Write(b) }

// Count ends the file and returns its line count.
func (g *LineCounter) Count() int64 {
	_ = g.w.Close()
	return <-g.lines
}
