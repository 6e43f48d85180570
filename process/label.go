package process

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Labels have no updated_at: label events and label scans are the
// authority and write last-writer-wins, keyed by id so that a rename updates
// the name in place and the associations follow (ON UPDATE CASCADE).
var labelSpec = &spec{
	table:     "github_issue_label",
	conflict:  "id",
	guard:     guardNone,
	returning: "id::text",
	cols:      cols("repo_id!", "name", "id!", "node_id", "url", "color", "description", `"default"`),
}

// Labels nested in issues and pull requests are only inserted when unknown:
// a late payload carrying a label's old name must not undo a rename.
var nestedLabelSpec = &spec{
	table:     "github_issue_label",
	guard:     guardNone,
	returning: "id::text",
	cols:      labelSpec.cols,
	doNothing: true,
}

func labelRow(repoID int64, l *github.Label) (row, error) {
	if l == nil || l.ID == nil || l.Name == nil {
		return row{}, fmt.Errorf("label without id or name: %w", ErrInvalid)
	}
	return row{
		key:     idKey(*l.ID),
		partial: l.Color == nil,
		vals: []any{repoID, *l.Name, *l.ID, str(l.NodeID), str(l.URL), str(l.Color),
			str(l.Description), boolean(l.Default)},
	}, nil
}

// Label upserts a label of a repository (which must be stored). A label
// carrying only a name updates nothing and is accepted when that label is
// already stored; a label with an id but no color is merged in.
func Label(ctx context.Context, exec boil.ContextExecutor, repoID int64, l *github.Label, m Meta) (Outcome, error) {
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	if l != nil && l.ID == nil && l.Name != nil {
		var one int
		err := exec.QueryRowContext(ctx, `SELECT 1 FROM github_issue_label WHERE repo_id = $1 AND name = $2`, repoID, *l.Name).Scan(&one)
		if err != nil {
			return 0, fmt.Errorf("label %q of repo %d has no id and is not stored: %w", *l.Name, repoID, ErrInvalid)
		}
		return Written, nil
	}
	r, err := labelRow(repoID, l)
	if err != nil {
		return 0, err
	}
	written, _, err := writeLabels(ctx, exec, repoID, []row{r}, m)
	if err != nil {
		return 0, fmt.Errorf("upsert label %d (%q) of repo %d: %w", *l.ID, *l.Name, repoID, err)
	}
	if written == 0 {
		return Stale, nil // deleted on GitHub
	}
	return Written, nil
}

// Labels upserts a page of labels of one repository.
func Labels(ctx context.Context, exec boil.ContextExecutor, repoID int64, labels []*github.Label, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(labels))
	for _, l := range labels {
		r, err := labelRow(repoID, l)
		if err != nil {
			return 0, 0, fmt.Errorf("labels of repo %d: %w", repoID, err)
		}
		rows = append(rows, r)
	}
	w, s, err := writeLabels(ctx, exec, repoID, rows, m)
	if err != nil {
		return 0, 0, fmt.Errorf("upsert %d labels of repo %d: %w", len(rows), repoID, err)
	}
	return w, s, nil
}

func writeLabels(ctx context.Context, exec boil.ContextExecutor, repoID int64, rows []row, m Meta) (written, stale int, err error) {
	if len(rows) == 0 {
		return 0, 0, nil
	}
	// A stored label with the same name and another id was deleted on GitHub
	// (names are unique per repository): drop it, or the insert would
	// collide on (repo_id, name).
	ids := make([]int64, len(rows))
	names := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.vals[2].(int64)
		names[i] = r.vals[1].(string)
	}
	// A deleted (buried) label arriving late must not push out the label
	// created since under its name; the table's trigger keeps it out.
	q := `DELETE FROM github_issue_label l USING unnest($2::bigint[], $3::text[]) AS x(id, name)
		WHERE l.repo_id = $1 AND l.name = x.name AND l.id <> x.id
		  AND NOT EXISTS (SELECT 1 FROM github_tombstone t WHERE t.kind = 'label' AND t.id = x.id)`
	if _, err := exec.ExecContext(ctx, q, repoID, ids, names); err != nil {
		return 0, 0, fmt.Errorf("drop replaced labels: %w", classify(err))
	}
	w, err := upsert(ctx, exec, labelSpec, m, rows)
	if err != nil {
		return 0, 0, err
	}
	return len(w), distinct(rows) - len(w), nil
}

// nestedLabels inserts the labels of issues or pull requests that are not
// stored yet; labels without an id are skipped (they are matched by name).
func nestedLabels(ctx context.Context, exec boil.ContextExecutor, repoID int64, m Meta, labels []*github.Label) error {
	rows := make([]row, 0, len(labels))
	for _, l := range labels {
		if r, err := labelRow(repoID, l); err == nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := upsert(ctx, exec, nestedLabelSpec, m, rows); err != nil {
		return fmt.Errorf("insert %d labels of repo %d: %w", len(rows), repoID, err)
	}
	return nil
}

// DeleteLabel removes a label; its associations go with it.
func DeleteLabel(ctx context.Context, exec boil.ContextExecutor, repoID int64, name string) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_issue_label WHERE repo_id = $1 AND name = $2`, repoID, name); err != nil {
		return fmt.Errorf("delete label %q of repo %d: %w", name, repoID, classify(err))
	}
	return nil
}

// DeleteLabelByID removes a repository's label with GitHub id labelID,
// whatever name it is stored under; its associations go with it.
func DeleteLabelByID(ctx context.Context, exec boil.ContextExecutor, repoID, labelID int64) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_issue_label WHERE repo_id = $1 AND id = $2`, repoID, labelID); err != nil {
		return fmt.Errorf("delete label %d of repo %d: %w", labelID, repoID, err)
	}
	return nil
}

// DeletedLabel applies a label deleted on GitHub: the label goes by name
// and, when l has an id, by id too, since a rename not received yet leaves
// the label stored under its old name.
func DeletedLabel(ctx context.Context, exec boil.ContextExecutor, repoID int64, l *github.Label) error {
	if l == nil || (l.Name == nil && l.ID == nil) {
		return fmt.Errorf("deleted label of repo %d without name or id: %w", repoID, ErrInvalid)
	}
	if l.Name != nil {
		if err := DeleteLabel(ctx, exec, repoID, *l.Name); err != nil {
			return err
		}
	}
	if id := l.GetID(); id != 0 {
		return DeleteLabelByID(ctx, exec, repoID, id)
	}
	return nil
}

// labelLink is one wanted association of an issue or pull request (owner)
// with a label: by id when the payload has it, else by name.
type labelLink struct {
	owner   int64
	repoID  int64
	labelID int64
	name    string
}

func labelLinks(owner, repoID int64, labels []*github.Label) []labelLink {
	out := make([]labelLink, 0, len(labels))
	for _, l := range labels {
		if l == nil || (l.ID == nil && l.Name == nil) {
			continue
		}
		out = append(out, labelLink{owner: owner, repoID: repoID, labelID: l.GetID(), name: l.GetName()})
	}
	return out
}

// replaceLabelLinks makes the label associations of owners exactly links,
// in one statement. Labels are resolved by id against the stored labels, so
// a payload carrying a label's old name still links the renamed label.
func replaceLabelLinks(ctx context.Context, exec boil.ContextExecutor, table, ownerCol string, owners []int64, links []labelLink) error {
	if len(owners) == 0 {
		return nil
	}
	n := len(links)
	ownerIDs, repoIDs, labelIDs, names := make([]int64, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, l := range links {
		ownerIDs[i], repoIDs[i], labelIDs[i], names[i] = l.owner, l.repoID, l.labelID, l.name
	}
	q := fmt.Sprintf(`WITH x AS (
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) AS x(owner, repo_id, label_id, name)
		), want AS (
			SELECT x.owner, l.repo_id, l.name FROM x JOIN github_issue_label l ON l.id = x.label_id
			WHERE x.label_id <> 0
			UNION
			SELECT x.owner, l.repo_id, l.name FROM x JOIN github_issue_label l ON l.repo_id = x.repo_id AND l.name = x.name
			WHERE x.label_id = 0
		), gone AS (
			DELETE FROM %[1]s a WHERE a.%[2]s = ANY($5::bigint[])
				AND NOT EXISTS (SELECT 1 FROM want w WHERE w.owner = a.%[2]s AND w.repo_id = a.repo_id AND w.name = a.label_name)
		)
		INSERT INTO %[1]s (%[2]s, repo_id, label_name) SELECT owner, repo_id, name FROM want
		ON CONFLICT DO NOTHING`, table, ownerCol)
	if _, err := exec.ExecContext(ctx, q, ownerIDs, repoIDs, labelIDs, names, owners); err != nil {
		return fmt.Errorf("replace labels of %d rows in %s: %w", len(owners), table, classify(err))
	}
	return nil
}
