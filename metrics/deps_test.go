package metrics

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// metrics reads the daemon's state through the api package only: it
// depends on no part of the daemon, directly or not.
func TestNoDaemonDependency(t *testing.T) {
	seen := map[string]string{} // package -> who imports it
	var walk func(pkg string)
	walk = func(pkg string) {
		dir := filepath.Join("..", strings.TrimPrefix(pkg, "wgd/"))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files for %s in %s", pkg, dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(p, "wgd/") {
					continue
				}
				if _, ok := seen[p]; !ok {
					seen[p] = pkg
					walk(p)
				}
			}
		}
	}
	walk("wgd/metrics")
	if by, ok := seen["wgd/daemon"]; ok {
		t.Errorf("metrics depends on wgd/daemon (imported by %s)", by)
	}
	if _, ok := seen["wgd/api"]; !ok {
		t.Error("metrics does not read the api package: the test looks at the wrong files")
	}
}
