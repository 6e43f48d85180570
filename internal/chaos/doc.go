// Package chaos is `make chaos`: the real webhookdb binary (serve, or web
// and worker), built from this tree, run as subprocesses against ghfake
// while faults happen (webhookdb down, PostgreSQL restarted, Redis
// restarted empty, a worker killed with SIGKILL mid-page, GitHub answering
// 502s and hanging, two web and two worker processes), then the final
// database checked against ghfake's world table by table, one line per
// scenario:
//
//	scenario NAME: sent N, stored N, recovered N, lost 0, duplicates 0
//
// The harness is tests under the build tag chaos, so that `go test ./...`
// does not run it: `make chaos` (CHAOS_SHORT=1 for the short version CI
// runs). docs/reliability.md says what each scenario does.
package chaos
