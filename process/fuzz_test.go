package process_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// FuzzObjects decodes arbitrary JSON as the objects webhooks carry and
// writes them: bad input is an error, never a panic, and never a database
// failure other than a missing parent.
func FuzzObjects(f *testing.F) {
	for _, file := range []string{"issues/opened.payload.json", "pull_request/opened.payload.json", "issues/pinned.payload.json"} {
		data, err := os.ReadFile(filepath.Join(payloadDir(), file))
		if err != nil {
			f.Fatal(err)
		}
		var ev struct {
			Issue       json.RawMessage `json:"issue"`
			PullRequest json.RawMessage `json:"pull_request"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(ev.Issue))
		f.Add([]byte(ev.PullRequest))
	}
	f.Add([]byte(`{"id": 1, "number": 1, "labels": [null, {"name": null}], "assignees": [null]}`))
	f.Add([]byte(`{"id": 1, "number": 1, "base": {"repo": {"id": 2}}, "head": null, "requested_reviewers": [null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		var is github.Issue
		var pr github.PullRequest
		if json.Unmarshal(data, &is) != nil || json.Unmarshal(data, &pr) != nil {
			return
		}
		for _, write := range []func(exec *sql.Tx) error{
			func(exec *sql.Tx) error { _, err := process.Issue(ctx, exec, 186853002, &is, webhook(t0)); return err },
			func(exec *sql.Tx) error { _, err := process.PullRequest(ctx, exec, &pr, webhook(t0)); return err },
		} {
			exec, err := env.DB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			storeRepo(t, exec, issuesEvent(t, "opened.payload.json").Repo)
			err = write(exec)
			// Rolled back at once: the next write takes the same row locks.
			_ = exec.Rollback()
			if err != nil && !errors.Is(err, process.ErrInvalid) && !errors.Is(err, process.ErrMissingParent) {
				t.Errorf("unexpected error: %v", err)
			}
		}
	})
}
