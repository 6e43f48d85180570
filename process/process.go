// Package process turns parsed GitHub objects (go-github v60 types) into
// rows of the replica. It never makes an HTTP request: webhooks (handlers/)
// and backfills (jobs/) fetch, this package writes, inside the caller's
// transaction.
//
// Every function keeps the design's rules:
//   - newer wins: a row is only overwritten by data whose GitHub updated_at
//     is at least as new as the stored one; older data returns Stale and
//     writes nothing;
//   - a nested object's staleness never blocks its parent;
//   - partial objects (a user with only id and login, a label with only a
//     name) never erase fields stored earlier from a full object;
//   - last_replicated_via_<via>_at is stamped with Meta.FetchedAt.
//
// How (upsert.go): every write is one INSERT ... ON CONFLICT DO UPDATE ...
// WHERE <guard> RETURNING per table and batch (a page of 100 issues is a
// fixed handful of statements, 300 files one statement); a row not returned
// was stale. Choices worth knowing:
//   - An object is partial when it lacks updated_at (users nested in
//     payloads, repositories listed by installation payloads) or state
//     (issues in pinned/unpinned payloads): every column is then
//     COALESCEd, and it only loses against a stored updated_at later than
//     Meta.FetchedAt. Columns some full representations omit (a list's pull
//     requests have no counts or merge details, a list's issues no
//     closed_by) are always COALESCEd.
//   - Reviews and permissions have no updated_at. A review's state only
//     moves forward (PENDING, then submitted, then DISMISSED); within a
//     state the later FetchedAt wins (against last_replicated_at). A
//     permission is written when fetched at least as late, and never when
//     a removal (github_user_repository_removal, at the removed delivery's
//     time) is as late or later. Files: last writer wins; a complete
//     files scan is the authority (DeletePullRequestFilesExceptSince). Labels:
//     label events and scans write last-writer-wins by id, so a rename
//     updates the key in place and associations follow; labels nested in
//     issues and pull requests are only inserted when unknown, and
//     associations are resolved by label id, so a late payload carrying a
//     label's old name cannot undo a rename.
//   - Writes whose parent row is missing (an issue of an unstored
//     repository) fail with ErrMissingParent, naming the parent. In a
//     transaction that error aborts it: write the payload's repository
//     (and, for files/reviews, the pull request) first.
//   - Deletes remove rows (DeleteInstallation marks deleted_at). A delete
//     GitHub announced is also buried (Bury): a late update of the same
//     issue, comment, label, milestone or review comment is then Stale
//     instead of bringing the row back; a buried repository refuses its
//     own row and every child's (tombstone.go).
//   - Access ends (repository_access.go): a repository no live
//     installation covers is marked uncovered_at; private ones are
//     removed after the configured retention.
package process

import (
	"errors"
	"time"
)

// Via says where data came from.
type Via int

const (
	// ViaWebhook is data from a webhook payload.
	ViaWebhook Via = iota + 1
	// ViaAPI is data fetched from the GitHub REST API.
	ViaAPI
)

func (v Via) String() string {
	switch v {
	case ViaWebhook:
		return "webhook"
	case ViaAPI:
		return "api"
	}
	return "unknown"
}

// Meta is how and when the data being written was obtained.
type Meta struct {
	Via Via
	// FetchedAt is when the data was received from GitHub.
	FetchedAt time.Time
}

// Outcome says what a write did with the main object.
type Outcome int

const (
	// Written means the row was inserted or updated.
	Written Outcome = iota + 1
	// Stale means the stored row is newer and was kept.
	Stale
)

func (o Outcome) String() string {
	switch o {
	case Written:
		return "written"
	case Stale:
		return "stale"
	}
	return "unknown"
}

// ErrInvalid wraps an error for data that cannot be stored as given (a
// missing id, a pull request without a base repository). Callers answer it
// as bad input rather than as a failure to store.
var ErrInvalid = errors.New("invalid GitHub object")
