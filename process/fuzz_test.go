package process_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// The fuzz targets decode arbitrary JSON, shaped like a webhook payload,
// into the go-github objects a process function takes and write them. A
// write returns nil or an error, never panics, and its errors are the
// documented ones: ErrInvalid (the values cannot be stored: a missing id,
// a \u0000 PostgreSQL refuses, a number too large for its column) or
// ErrMissingParent. Anything else (a NOT NULL or CHECK violation, a raw
// database error) is a row the schema refused that process should have
// refused itself, and fails the fuzz.
//
// Each input runs in its own transaction, rolled back at once, on top of
// fixtures committed once per fuzz process (a repository, an installation,
// an issue and a pull request), so children have their parents.

// fuzzWriter is one process entry point fed from a decoded payload.
type fuzzWriter struct {
	name string
	// key of the payload the writer reads its object from.
	key string
	// prepare decodes the input: nil when it has no object for the writer.
	prepare func(data []byte) func(ctx context.Context, exec *sql.Tx, m process.Meta) error
}

// Fixture rows, from issues/opened.payload.json and
// pull_request/opened.payload.json (the same repository).
const (
	fxRepoID         = int64(186853002)
	fxIssueNumber    = 1
	fxIssueID        = int64(444500041)
	fxPullID         = int64(279147437)
	fxPullNumber     = 2
	fxInstallationID = int64(957387)
)

// decode reads the value under key of a payload; ok is false when data is
// not a JSON object or the value does not decode as T, inputs the handlers
// refuse before process sees them.
func decode[T any](data []byte, key string) (v T, ok bool) {
	var ev map[string]json.RawMessage
	if json.Unmarshal(data, &ev) != nil {
		return v, false
	}
	raw, found := ev[key]
	if !found || json.Unmarshal(raw, &v) != nil {
		return v, false
	}
	return v, true
}

// fuzzWrites runs every writer on every input of f, each in its own
// transaction: the real payloads that carry a writer's key, with plural
// variants of their objects ("issues": [issue, issue]), the edge cases, and
// then whatever the fuzzer makes of them.
func fuzzWrites(f *testing.F, writers []fuzzWriter) {
	files, err := filepath.Glob(filepath.Join(payloadDir(), "*", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no payloads in %s: %v", payloadDir(), err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(data, &ev); err != nil {
			f.Fatalf("%s: %v", path, err)
		}
		// Plural keys the list writers read, from the singular ones.
		for k, v := range ev {
			plural := k + "s"
			if k == "repository" {
				plural = "repositories"
			}
			if _, ok := ev[plural]; !ok && strings.HasPrefix(string(v), "{") {
				ev[plural] = json.RawMessage("[" + string(v) + "," + string(v) + "]")
			}
		}
		for _, w := range writers {
			if _, ok := ev[w.key]; ok {
				seed, _ := json.Marshal(ev)
				f.Add(seed, len(seed)%2 == 0) // either source, by chance
				break
			}
		}
	}
	for i, e := range edgeCases {
		f.Add([]byte(e), i%2 == 0)
	}
	storeFixtures(f)
	f.Fuzz(func(t *testing.T, data []byte, viaAPI bool) {
		m := webhook(t0)
		if viaAPI {
			m = api(t0)
		}
		ctx := context.Background()
		for _, w := range writers {
			write := w.prepare(data)
			if write == nil {
				continue
			}
			exec, err := env.DB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = write(ctx, exec, m)
			// Rolled back at once: every write starts from the fixtures.
			if rerr := exec.Rollback(); rerr != nil {
				t.Fatalf("rollback: %v", rerr)
			}
			if err != nil && !errors.Is(err, process.ErrInvalid) && !errors.Is(err, process.ErrMissingParent) {
				t.Errorf("%s: unexpected error: %v", w.name, err)
			}
		}
	})
}

// edgeCases are bodies every writer is seeded with: nulls, empty and
// huge values, negative ids, NUL bytes.
var edgeCases = []string{
	`{}`,
	`null`,
	`[]`,
	`{"issue": null, "pull_request": null, "repository": null, "installation": null}`,
	`{"issue": {}, "comment": {}, "label": {}, "milestone": {}, "pull_request": {}, "review": {}, "repository": {}, "installation": {}, "member": {}}`,
	`{"issue": {"id": 1, "number": 1, "labels": [null, {"name": null}], "assignees": [null]}}`,
	`{"pull_request": {"id": 1, "number": 1, "base": {"repo": {"id": 2}}, "head": null, "requested_reviewers": [null]}}`,
	`{"issue": {"id": -1, "number": -1}, "comment": {"id": -1}, "label": {"id": -1, "name": ""}, "milestone": {"id": -1, "number": -1}}`,
	`{"issue": {"id": 9223372036854775807, "number": 9223372036854775807, "comments": 9223372036854775807}}`,
	`{"milestone": {"id": 1, "number": 2147483648, "open_issues": 9223372036854775807}}`,
	`{"issue": {"id": 2, "number": 2, "title": "a\u0000b", "state": "open", "user": {"id": 3, "login": "\u0000"}}}`,
	`{"comment": {"id": 2, "body": "\u0000", "user": {"id": 3, "login": "x"}}}`,
	`{"label": {"id": 2, "name": "\u0000", "color": "\u0000"}}`,
	`{"repository": {"id": 2, "name": "\u0000", "full_name": "o/\u0000", "owner": {"id": 3, "login": "o"}}}`,
	`{"installation": {"id": 2, "account": {"id": 3, "login": "\u0000"}}, "repositories_added": [{"id": 4, "name": "\u0000", "full_name": "\u0000"}]}`,
	`{"member": {"id": 3, "login": "\u0000"}, "permission": "\u0000", "permissions": {"\u0000": true}}`,
	`{"files": [{"filename": "\u0000", "status": "added"}, {"filename": ""}, null]}`,
	`{"review": {"id": 2, "state": "\u0000", "body": "\u0000", "submitted_at": "0001-01-01T00:00:00Z"}}`,
	`{"issue": {"id": 2, "number": 2, "state": "open", "updated_at": "9999-12-31T23:59:59Z", "created_at": "0001-01-01T00:00:00Z"}}`,
	`{"files": [{"filename": "a.go", "status": "added", "additions": 1, "deletions": -1, "changes": 9223372036854775807, "patch": "@@ -0,0 +1 @@"}]}`,
	`{"transfer": {"OldIssueID": 444500041, "OldRepoID": 186853002, "OldNumber": 1, "NewRepoID": 186853002, "NewNumber": 2147483648}}`,
	`{"transfer": {"OldIssueID": -1, "OldRepoID": 0, "OldNumber": -1, "NewRepoID": -1, "NewNumber": 0}}`,
	`{"bury": {"Kind": "issue", "ID": -1}}`,
	`{"bury": {"Kind": "\u0000", "ID": 1}}`,
	`{"member": {"id": 3, "login": "m"}, "permission": "admin", "permissions": {"pull": true, "admin": false, "other": true}}`,
	`{"members": [{"id": 3, "login": "m"}, {"id": 3}, null, {"login": "x"}]}`,
	`{"installation": {"id": 957387, "suspended_at": "0001-01-01T00:00:00Z", "suspended_by": {"login": "\u0000"}}, "repositories": [null, {"id": 186853002}]}`,
}

// storeFixtures commits the parents the writers need, once per process
// (each fuzz worker has its own database).
func storeFixtures(f *testing.F) {
	ctx := context.Background()
	exec, err := env.DB.BeginTx(ctx, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer func() { _ = exec.Rollback() }()
	is := issuesEvent(f, "opened.payload.json")
	pr := prEvent(f, "opened.payload.json")
	in := payload(f, "installation", "created.payload.json").(*github.InstallationEvent)
	if is.Repo.GetID() != fxRepoID || is.Issue.GetID() != fxIssueID || pr.PullRequest.GetID() != fxPullID || in.Installation.GetID() != fxInstallationID {
		f.Fatal("the fixture payloads changed: update the fx constants")
	}
	if _, err := process.Installation(ctx, exec, in.Installation, webhook(t0)); err != nil {
		f.Fatal(err)
	}
	storeRepo(f, exec, is.Repo)
	if _, err := process.Issue(ctx, exec, fxRepoID, is.Issue, webhook(t0)); err != nil {
		f.Fatal(err)
	}
	if _, err := process.PullRequest(ctx, exec, pr.PullRequest, webhook(t0)); err != nil {
		f.Fatal(err)
	}
	if err := exec.Commit(); err != nil {
		f.Fatal(err)
	}
}

// FuzzIssueWrites: issues and their comments.
func FuzzIssueWrites(f *testing.F) { fuzzWrites(f, issueWriters) }

// FuzzPullRequestWrites: pull requests, files, reviews, review comments.
func FuzzPullRequestWrites(f *testing.F) { fuzzWrites(f, pullWriters) }

// FuzzRepositoryWrites: repositories, labels, milestones, users and
// permissions.
func FuzzRepositoryWrites(f *testing.F) { fuzzWrites(f, repoWriters) }

// FuzzInstallationWrites: installations and their repositories.
func FuzzInstallationWrites(f *testing.F) { fuzzWrites(f, installationWriters) }
