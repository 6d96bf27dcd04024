package districtgen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestExamplesUpToDate: the files in examples/ are what the generator
// writes, so that the README's examples use the district described here.
func TestExamplesUpToDate(t *testing.T) {
	t.Parallel()
	files, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "examples", f.Name))
		if err != nil {
			t.Errorf("examples/%s: %v (run go generate ./internal/districtgen)", f.Name, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("examples/%s is not what the generator writes: run go generate ./internal/districtgen", f.Name)
		}
	}
}

// TestExamplesFictional: the published files' contacts reach no one, and
// the next day's file keeps the numbers that did not change.
func TestExamplesFictional(t *testing.T) {
	t.Parallel()
	files, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if bytes.Contains(f.Data, []byte(".com")) || bytes.Contains(f.Data, []byte(".org")) || bytes.Contains(f.Data, []byte(".net")) {
			t.Errorf("%s: an e-mail domain is not fictional", f.Name)
		}
	}
	phones := map[string]string{}
	for _, s := range []string{"(612) 201-3344", "+1 612 201 3344", "1-763-201-3344", "612.201.3344"} {
		got, err := fictionalPhone(s, phones)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(s, "→", got)
	}
	if got, _ := fictionalPhone("6122013344", phones); got != "6125550100" {
		t.Errorf("the same number written another way: %s, want 6125550100", got)
	}
	if got, _ := fictionalPhone("1-763-201-3344", phones); got != "1-612-555-0101" {
		t.Errorf("another number: %s, want 1-612-555-0101", got)
	}
	if got := fictionalEmail("Maria.Garcia85@Gmail.com "); got != "Maria.Garcia85@Gmail.example " {
		t.Errorf("e-mail: %q", got)
	}
	if got := fictionalEmail("jo@students.lakesideschools.org"); got != "jo@students.lakesideschools.example" {
		t.Errorf("e-mail: %q", got)
	}
}
