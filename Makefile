# webhookdb: see README.md.
GO ?= go
# The whole suite on a 2-core machine; the test packages run in parallel,
# each on its own database and Redis namespace.
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: build test race fuzz check fmt vet models models-check tree-checks alerts-check services demo fake-github bench chaos ci

build:
	$(GO) build -o webhookdb .

test: services
	@scripts/chromium.sh
	$(GO) test $(TEST_FLAGS) ./...

# The short suite under the race detector (CI runs it too).
race: services
	$(GO) test -race -short $(TEST_FLAGS) ./...

# Every fuzz target for FUZZTIME each (default 10s), e.g. make fuzz FUZZTIME=1m.
fuzz: services
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

# What CI checks besides the tests.
check: fmt vet models-check tree-checks alerts-check

fmt:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Regenerate models/ from the migrations (needs PostgreSQL).
models: services
	scripts/models.sh

models-check: services
	scripts/models.sh --check

# Files of at most 600 lines; no github_* writes outside process/.
tree-checks:
	scripts/tree-checks.sh

# The Prometheus alert rules of docs/prometheus: promtool check and unit
# tests (installs promtool as root; skipped with one line without it).
alerts-check:
	scripts/alerts-check.sh

services:
	@scripts/services.sh

# The whole product against the GitHub simulator; Ctrl-C stops it.
# DEMO_FLAGS passes flags on, e.g. make demo DEMO_FLAGS='--seed-repos 5'.
demo: build services
	./webhookdb demo $(DEMO_FLAGS)

# The benchmark of docs/benchmarks.md: the real binary against ghfake.
# BENCH_FLAGS passes flags on, e.g. make bench BENCH_FLAGS='--quick --json bench.json'.
bench: build services
	./webhookdb bench $(BENCH_FLAGS)

# Faults, proven: the real binary against the GitHub simulator while
# webhookdb, PostgreSQL, Redis, a worker and GitHub fail; one line per
# scenario, non-zero if anything is lost or doubled (docs/reliability.md).
# CHAOS_SHORT=1 is the short version CI runs.
CHAOS_FLAGS ?= -count=1 -timeout 30m -parallel 6
chaos: services
	CHAOS_SHORT=$(CHAOS_SHORT) $(GO) test -tags chaos $(CHAOS_FLAGS) -run TestChaos -v ./internal/chaos

ci: check test
