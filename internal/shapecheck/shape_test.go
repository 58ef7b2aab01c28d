// Package shapecheck holds the test that keeps lnkit's first promise: library code starts no goroutine,
// reads no wall clock, never sleeps or arms a timer, and opens no socket. Only the host code may:
// examples/ (host programs), host/ (the reusable host packages: socket glue, the background
// processor) and tests.
package shapecheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// forbidden lists, per import path, the functions library code must not call.
var forbidden = map[string][]string{
	"time": {"Now", "Sleep", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick", "Since", "Until"},
	"net":  {"Dial", "DialTimeout", "DialTCP", "DialUDP", "DialIP", "DialUnix", "Listen", "ListenTCP", "ListenUDP", "ListenPacket", "ListenIP", "ListenUnix"},
}

// hostDirs are the top-level directories of host code, which may do all of that (examples/host holds
// the importable host packages).
var hostDirs = []string{"examples"}

// skipDir says whether the walk leaves out the directory rel (relative to the module root, slash- or
// OS-separated): host code, hidden directories and test data.
func skipDir(rel string) bool {
	rel = filepath.ToSlash(rel)
	if rel == "." {
		return false
	}
	name := path.Base(rel)
	return strings.HasPrefix(name, ".") || name == "testdata" || slices.Contains(hostDirs, rel)
}

func moduleRoot(t *testing.T) string {
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
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// violations returns one line per forbidden construct in the Go source src.
func violations(fset *token.FileSet, name string, src []byte) ([]string, error) {
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	local := map[string]string{} // local package name -> import path, for the forbidden packages
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if _, ok := forbidden[path]; !ok {
			continue
		}
		n := filepath.Base(path)
		if imp.Name != nil {
			n = imp.Name.Name
		}
		local[n] = path
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.GoStmt:
			out = append(out, fset.Position(x.Pos()).String()+": go statement")
		case *ast.SelectorExpr:
			id, ok := x.X.(*ast.Ident)
			if !ok {
				return true
			}
			path, ok := local[id.Name]
			if !ok {
				return true
			}
			for _, fn := range forbidden[path] {
				if x.Sel.Name == fn {
					out = append(out, fset.Position(x.Pos()).String()+": "+path+"."+fn)
				}
			}
		}
		return true
	})
	return out, nil
}

func TestLibraryHasNoRuntime(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skipDir(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		v, err := violations(fset, rel, src)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
		for _, line := range v {
			t.Errorf("library code must not do this: %s", line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d library files found under %s: the walk is broken", files, root)
	}
}

// TestDetector proves the checker catches each forbidden construct, including renamed imports.
func TestDetector(t *testing.T) {
	cases := map[string]int{
		"package p\nfunc f() { go f() }\n":                                                             1,
		"package p\nimport \"time\"\nvar _ = time.Now()\n":                                             1,
		"package p\nimport t2 \"time\"\nfunc f() { t2.Sleep(1); _ = t2.After(1) }\n":                   2,
		"package p\nimport \"net\"\nfunc f() { net.Dial(\"tcp\", \"\"); net.Listen(\"tcp\", \"\") }\n": 2,
		"package p\nimport \"time\"\nvar _ time.Duration = time.Second\n":                              0,
		"package p\ntype time struct{}\nfunc (time) Now() {}\nfunc f() { var x time; x.Now() }\n":      0,
	}
	for src, want := range cases {
		got, err := violations(token.NewFileSet(), "x.go", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%q: got %d findings %v, want %d", src, len(got), got, want)
		}
	}
}

// TestSkipDir: host code and test data are left out, library packages (including ones whose names
// merely start like a host directory, or nested directories named like one) are not.
func TestSkipDir(t *testing.T) {
	cases := map[string]bool{
		".": false, "examples": true, "host": false, "channelmanager": false, "peermanager": false,
		"hostile": false, "internal/host": false, "channelmanager/examples": false, "lnwire/testdata": true,
		".git": true, "keys/.cache": true,
	}
	for rel, want := range cases {
		if got := skipDir(rel); got != want {
			t.Errorf("skipDir(%q) = %v, want %v", rel, got, want)
		}
	}
}
