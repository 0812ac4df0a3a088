package errcodes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

const root = "../.."

// declared returns the codes errcodes.go declares, value -> constant name.
func declared(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errcodes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s is not a string literal: the list must be readable as it stands", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				if other, dup := codes[v]; dup {
					t.Fatalf("%s and %s are both %q", other, name.Name, v)
				}
				codes[v] = name.Name
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("no codes found in errcodes.go")
	}
	return codes
}

var tableRow = regexp.MustCompile("^\\| `([A-Z][A-Z_]*)` \\|")

// documented returns the codes of the table in the README's Errors section.
func documented(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Errors\n")
	if !ok {
		t.Fatal("README.md has no ### Errors section")
	}
	if i := regexp.MustCompile(`\n##+ `).FindStringIndex(section); i != nil {
		section = section[:i[0]]
	}
	var codes []string
	for line := range strings.SplitSeq(section, "\n") {
		if m := tableRow.FindStringSubmatch(line); m != nil {
			codes = append(codes, m[1])
		}
	}
	return codes
}

// TestREADMEListsExactlyTheCodes keeps the docs and the list from drifting.
func TestREADMEListsExactlyTheCodes(t *testing.T) {
	t.Parallel()
	codes := declared(t)
	doc := documented(t)
	seen := map[string]bool{}
	for _, c := range doc {
		if seen[c] {
			t.Errorf("README lists %s twice", c)
		}
		seen[c] = true
		if _, ok := codes[c]; !ok {
			t.Errorf("README lists %s, which internal/errcodes does not declare", c)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(codes)) {
		if name := codes[v]; !seen[v] {
			t.Errorf("errcodes.%s (%s) is missing from the README's Errors table", name, v)
		}
	}
}

// The codes gqlgen sets itself must be the values it sets.
func TestGqlgenCodes(t *testing.T) {
	t.Parallel()
	if errcodes.GraphQLParseFailed != errcode.ParseFailed || errcodes.GraphQLValidationFailed != errcode.ValidationFailed {
		t.Errorf("gqlgen's codes are %q and %q", errcode.ParseFailed, errcode.ValidationFailed)
	}
}

// TestNoCodeLiterals: gateway code names a code through errcodes, never as a
// string of its own, so that the list above is the whole story. The vendor
// clients and simulators (backends/) are left out: their strings are the
// vendors'.
func TestNoCodeLiterals(t *testing.T) {
	t.Parallel()
	codes := declared(t)
	fset := token.NewFileSet()
	var found []string
	check := func(path string) {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("%s: %v", path, err) // mid-edit elsewhere: the build says more
			return
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for c := range codes {
				if v == c || strings.Contains(v, `"code":"`+c+`"`) {
					found = append(found, fset.Position(lit.Pos()).String()+": "+c)
				}
			}
			return true
		})
	}
	for _, dir := range []string{"app", "resolvers", "fleet", "cache", "loaders", "internal", "graph/model"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() {
				if filepath.Base(path) == "errcodes" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				check(path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"server.go"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			check(filepath.Join(root, p))
		}
	}
	slices.Sort(found)
	for _, f := range found {
		t.Errorf("%s: a code as a string literal; use internal/errcodes", f)
	}
}
