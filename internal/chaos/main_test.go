//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// size is how much each scenario does: the full run's or the short one's
// (CHAOS_SHORT=1, for CI).
type size struct {
	short bool
	// steps are Simulate's steps per scenario (about one delivery each).
	steps int
	// orgs, repos per org, pulls and issues per repository of the seed.
	orgs, repos, pulls, issues int
}

func chaosSize() size {
	if os.Getenv("CHAOS_SHORT") != "" {
		return size{short: true, steps: 300, orgs: 1, repos: 2, pulls: 6, issues: 6}
	}
	return size{steps: 2000, orgs: 2, repos: 2, pulls: 15, issues: 15}
}

// results collects each scenario's line for the table printed at the end.
type results struct {
	mu    sync.Mutex
	lines map[string]string
}

func (r *results) add(name, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[name] = line
}

func (r *results) print() {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.lines))
	for n := range r.lines {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Println("chaos: results")
	for _, n := range names {
		fmt.Println(r.lines[n])
	}
}

// build compiles the webhookdb binary of this tree into a temporary
// directory, once per run.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webhookdb")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestChaos runs every scenario, in parallel (each has its own simulator,
// databases, Redis and processes), prints the table once all are over,
// and fails when one lost or doubled anything.
func TestChaos(t *testing.T) {
	start := time.Now()
	sz := chaosSize()
	bin := build(t)
	table := &results{lines: map[string]string{}}
	t.Cleanup(func() { // after every parallel scenario
		table.print()
		fmt.Printf("chaos: %s run took %s\n", map[bool]string{true: "short", false: "full"}[sz.short], time.Since(start).Round(time.Second))
	})
	only := os.Getenv("CHAOS_ONLY") // a comma-separated subset, for debugging
	for _, sc := range scenarios() {
		if only != "" && !strings.Contains(","+only+",", ","+sc.name+",") {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), sc.budget(sz))
			defer cancel()
			r := newRun(t, sc.name, sz, bin)
			sc.run(ctx, t, r)
			line := r.finish(ctx, t)
			table.add(sc.name, line)
			if !t.Failed() { // a failure has printed it already
				t.Log(line)
			}
		})
	}
}
