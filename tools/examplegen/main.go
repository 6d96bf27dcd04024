// Command examplegen writes the README's example district files into
// examples/ (run from the module root): go generate ./internal/districtgen
// runs it. internal/districtgen.Examples says what they are.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rollcall/rollcall/internal/districtgen"
)

func main() {
	dir := flag.String("dir", "examples", "the folder to write the files into")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "examplegen:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	files, err := districtgen.Examples()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
