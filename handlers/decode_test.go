package handlers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-github/v60/github"
)

// TestDecodeDescribesAsNewDelivery: the delivery decode describes from the
// parsed event is the one newDelivery reads from the payload, for every
// real example of every event with a handler that has the getters.
func TestDecodeDescribesAsNewDelivery(t *testing.T) {
	events := map[string]func(string, []byte) (delivery, bool, error){
		"issues":                      describe[issuesPayload],
		"issue_comment":               describe[github.IssueCommentEvent],
		"label":                       describe[github.LabelEvent],
		"member":                      describe[memberPayload],
		"milestone":                   describe[github.MilestoneEvent],
		"pull_request":                describe[github.PullRequestEvent],
		"pull_request_review":         describe[github.PullRequestReviewEvent],
		"pull_request_review_comment": describe[github.PullRequestReviewCommentEvent],
		"repository":                  describe[github.RepositoryEvent],
	}
	checked := 0
	for event, desc := range events {
		files, err := filepath.Glob(filepath.Join(payloadsDir, event, "*.payload.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no %s payloads: %v", event, err)
		}
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, fromEvent, err := desc(event, body)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if !fromEvent {
				t.Errorf("%s: %s has no envelope getters", f, event)
			}
			want, err := newDelivery(event, "guid", body)
			if err != nil {
				t.Fatal(err)
			}
			if got.action != want.action || got.installationID != want.installationID || got.repoID != want.repoID || got.event != want.event || got.id != want.id {
				t.Errorf("%s: decode described %+v, newDelivery %+v", f, got, want)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d payloads checked", checked)
	}
}

func describe[T any](event string, body []byte) (delivery, bool, error) {
	var ev T
	_, fromEvent := any(&ev).(envelopeGetters)
	_, d, err := decode[T](event, "guid", body)
	return d, fromEvent, err
}
