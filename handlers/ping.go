package handlers

import (
	"context"
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/process"
)

// Ping answers GitHub's ping, sent when a hook is created: 200 with
// {"message":"pong"}. It is recorded like any delivery.
type Ping struct{ Base }

func (h *Ping) Handles() []string { return []string{"ping"} }

func (h *Ping) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	d, err := newDelivery(eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if err := h.deliver(ctx, d, func(context.Context, *deliveryTx) (process.Outcome, error) { return 0, nil }); err != nil {
		return err
	}
	githubapp.SetResponder(ctx, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"message": "pong"})
	})
	return nil
}
