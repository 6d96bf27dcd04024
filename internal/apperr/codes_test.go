package apperr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCodesListsEveryCode: Codes holds every Code constant declared here,
// once, so that the lists documented from it (the schema's description,
// the README) name every code a client can see. The constants are read
// from the source: Go cannot list a package's constants at run time.
func TestCodesListsEveryCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "apperr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if typ, _ := v.Type.(*ast.Ident); typ == nil || typ.Name != "Code" {
				for _, n := range v.Names {
					if strings.HasPrefix(n.Name, "Code") {
						t.Errorf("%s has no explicit type Code: this test cannot read it", n.Name)
					}
				}
				continue
			}
			for _, val := range v.Values {
				lit, ok := val.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("a Code constant that is not a string literal: %v", val)
				}
				s, _ := strconv.Unquote(lit.Value)
				declared = append(declared, s)
			}
		}
	}
	var listed []string
	for _, c := range Codes {
		if slices.Contains(listed, string(c)) {
			t.Errorf("%s is in Codes twice", c)
		}
		listed = append(listed, string(c))
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if !slices.Equal(declared, listed) {
		t.Errorf("Codes = %v, the Code constants are %v", listed, declared)
	}
}
