package jobs

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// TestNotModifiedPageWithoutItsETagRow: a page GitHub answered 304 whose
// api_etag row went meanwhile (retention) is not recorded done without the
// ids it lists, which a full scan's sweep would then remove; the page
// fails this run and its retry fetches it in full. A 304 whose row is there
// touches it, so retention keeps an ETag in use.
func TestNotModifiedPageWithoutItsETagRow(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	e := newEngine(d)
	c := collectionsByName[CollectionLabels]
	first := insertScan(t, CollectionLabels, 1, 1)
	pf := keysPage("bug", "docs")
	if err := e.withTx(ctx, "page", func(tx *sql.Tx) error {
		_, err := e.writePage(ctx, tx, first, c, 1, pf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	key := etagKey(first, pf.url)
	old := time.Now().Add(-100 * 24 * time.Hour)
	if _, err := env.DB.Exec(`UPDATE api_etag SET updated_at = $2 WHERE url = $1`, key, old); err != nil {
		t.Fatal(err)
	}

	// The row is there: the page is done and the row touched.
	second := insertScan(t, CollectionLabels, 2, 1)
	unchanged := &pageFetch{url: pf.url, f: fetched{requested: true, notModified: true, etag: pf.f.etag}}
	if err := e.withTx(ctx, "page", func(tx *sql.Tx) error {
		_, err := e.writePage(ctx, tx, second, c, 1, unchanged)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var touched time.Time
	if err := env.DB.QueryRow(`SELECT updated_at FROM api_etag WHERE url = $1`, key).Scan(&touched); err != nil {
		t.Fatal(err)
	}
	if !touched.After(old.Add(time.Hour)) {
		t.Errorf("a 304 left the ETag's updated_at at %v: retention would remove an ETag in use", touched)
	}

	// The row is gone: the page is not done.
	if _, err := env.DB.Exec(`DELETE FROM api_etag WHERE url = $1`, key); err != nil {
		t.Fatal(err)
	}
	third := insertScan(t, CollectionLabels, 3, 1)
	err := e.withTx(ctx, "page", func(tx *sql.Tx) error {
		_, err := e.writePage(ctx, tx, third, c, 1, unchanged)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "removed meanwhile") {
		t.Fatalf("writing a 304 page without its ETag row: %v, want an error that fetches it again", err)
	}
	var status string
	if err := env.DB.QueryRow(`SELECT status FROM scan_page WHERE scan_id = $1 AND page = 1`, third.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "pending" {
		t.Errorf("page status %q, want pending (not done without its ids)", status)
	}
}
