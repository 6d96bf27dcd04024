// Package arch holds the test that keeps the packages in layers: each
// imports only packages of lower layers (docs/architecture.md draws them).
package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/rollcall/rollcall/"

// layers, bottom first. A package imports packages of lower layers only.
var layers = [][]string{
	{"internal/apperr", "internal/opt", "internal/fold", "internal/config", "internal/metrics", "internal/notify",
		"internal/pgcluster", "internal/graphiql", "internal/districtgen", "internal/testkit/clock",
		"internal/testkit/nodetool", "internal/bench", "graph/schema"},
	{"internal/page", "migrations", "internal/authz", "internal/httpx", "internal/schedule", "internal/importfile",
		"internal/testkit/gqlaudit", "internal/testkit/gqlws", "internal/testkit/browser"},
	{"internal/db"},
	{"internal/audit", "internal/filestore", "internal/testkit/testdb"},
	{"internal/users", "internal/recipients"},
	{"internal/mapping", "internal/lists"},
	{"internal/oneroster"},
	{"internal/apply"},
	{"internal/imports"},
	{"internal/attention", "internal/importjobs"},
	{"internal/app"},
	{"internal/demo", "graph/scalar", "graph/model"},
	{"graph"},
	{"server"},
	{"server/servertest", "cmd/rollcall", "tools/schemacat", "tools/examplegen"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

// TestLayers: no package imports one of its own layer or above (tests may
// import anything).
func TestLayers(t *testing.T) {
	layer := map[string]int{}
	for i, ps := range layers {
		for _, p := range ps {
			layer[p] = i
		}
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		if name == "internal/arch" {
			continue
		}
		seen++
		mine, ok := layer[name]
		if !ok {
			t.Errorf("package %s is in no layer: add it to layers here and to docs/architecture.md", name)
			continue
		}
		for _, imp := range p.Imports {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			if l, ok := layer[dep]; ok && l >= mine {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only lower layers", name, mine, dep, l)
			}
		}
	}
	if seen == 0 {
		t.Fatal("go list found no packages")
	}
}
