package fleet_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/fleetgraph/fleetgraph/"

// vendorClients are the vendor client packages: only an adapter talks to
// one (their simulators, backends/<vendor>/<vendor>sim, are test servers).
var vendorClients = []string{module + "backends/runai", module + "backends/modelarts"}

// mayImportClients are where a vendor client may be imported: the adapters,
// the composition root, backends itself, and the e2e tests and benchmarks
// that build clients against the simulators.
var mayImportClients = []string{"fleet/runai/", "fleet/modelarts/", "app/", "backends/", "tests/", "bench/"}

// TestOnlyAdaptersImportVendorClients fails when a Go file outside those
// directories imports a vendor client package: vendor knowledge belongs in
// one adapter per vendor (see README, Layout).
func TestOnlyAdaptersImportVendorClients(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") {
			return nil
		}
		for _, ok := range mayImportClients {
			if strings.HasPrefix(rel, ok) {
				return nil
			}
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, vc := range vendorClients {
				if p == vc {
					t.Errorf("%s imports the vendor client %s: only the vendor's adapter (fleet/<vendor>) and app may", rel, strings.TrimPrefix(p, module))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files under %s: is the walk broken?", checked, root)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// TestIDsKnowNoVendor: the ID envelope is generic; each adapter owns its
// layout. internal/ids importing backends was the one arrow running back
// up the tree.
func TestIDsKnowNoVendor(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(moduleRoot(t), "internal", "ids")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, module+"backends") || strings.HasPrefix(p, module+"fleet") {
				t.Errorf("internal/ids/%s imports %s", e.Name(), p)
			}
		}
	}
}

// TestServiceNamesNoVendor: the service (fleet/*.go, not the adapters)
// never names a vendor, so it cannot branch on one.
func TestServiceNamesNoVendor(t *testing.T) {
	t.Parallel()
	vendorNames := map[string]bool{
		"backends.RunAI": true, "backends.ModelArts": true,
		"model.ProviderRunai": true, "model.ProviderModelarts": true,
	}
	dir := filepath.Join(moduleRoot(t), "fleet")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && vendorNames[x.Name+"."+sel.Sel.Name] {
					t.Errorf("%s names %s.%s: vendor cases belong in the vendor's adapter", fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}
