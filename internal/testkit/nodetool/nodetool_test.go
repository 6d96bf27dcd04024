package nodetool

import (
	"strings"
	"testing"
)

func TestDirFindsTheTool(t *testing.T) {
	tl := Tool{Name: "graphql-http audit", Dir: "tools/graphql-http-audit", Script: "audit.mjs"}
	dir, err := tl.dir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dir, "graphql-http-audit") {
		t.Fatalf("dir() = %q", dir)
	}
	if _, err := (Tool{Dir: "tools/nothing-here", Script: "x.mjs"}).dir(); err == nil {
		t.Fatal("found a tool that does not exist")
	}
}
