package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/webhookdb/webhookdb"

// allowed is docs/design.md's layer table: what each production package of
// the module may import from the module. internal/ helpers may be imported
// by any layer and are listed with the layers that use them. Tests are not
// checked: they may import ghfake and testutil.
var allowed = map[string][]string{
	"models":            nil,
	"migrations":        nil,
	"internal/httpjson": nil,
	"internal/pgretry":  nil,
	"internal/promreg":  nil,
	"internal/ttlcache": nil,
	"internal/ghtoken":  nil,
	"internal/testutil": {"migrations"},
	"internal/layering": nil,
	"internal/bench":    {"ghfake"},
	"internal/chaos":    nil, // its harness is tests under the chaos build tag
	"ghfake":            nil,
	"process":           {"models"},
	"jobs":              {"models", "process"},
	"handlers":          {"models", "process", "jobs"},
	"load":              {"models", "process", "jobs"},
	"ui":                {"models", "process", "jobs"},
	"readapi":           {"models", "process"},
	"app":               {"models", "migrations", "process", "jobs", "handlers", "load", "ui", "readapi", "ghfake"},
	"":                  {"app"}, // main.go
}

type listed struct {
	ImportPath string
	Imports    []string
}

func TestImportsPointDown(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	seen := 0
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		seen++
		pkg := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		may, known := allowed[pkg]
		if !known {
			t.Errorf("package %q is not in the layer table: add it to docs/design.md and to this test", pkg)
			continue
		}
		var bad []string
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if strings.HasPrefix(dep, "internal/") && !strings.HasPrefix(pkg, "internal/") {
				continue // internal helpers serve every layer
			}
			if !contains(may, dep) {
				bad = append(bad, dep)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("%s imports %s, which the layer table does not allow (it may import %v)", orRoot(pkg), strings.Join(bad, ", "), may)
		}
	}
	if seen < 10 {
		t.Fatalf("go list found only %d packages; the check would prove nothing", seen)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func orRoot(pkg string) string {
	if pkg == "" {
		return "main"
	}
	return pkg
}
