package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/jobs"
)

// NewReplay builds the jobs' Replay: it processes a stored delivery again
// through the event handler the webhook dispatcher would pick, as of the
// delivery's first arrival. No signature is checked (the payload was
// verified when it arrived) and nothing is answered over HTTP.
func NewReplay(d Deps) jobs.Replay {
	return newReplay(NewBase(d))
}

func newReplay(b Base) jobs.Replay {
	// The dispatcher's choice: the first handler of an event wins.
	byEvent := map[string]githubapp.EventHandler{}
	for _, h := range Handlers(b) {
		for _, ev := range h.Handles() {
			if _, ok := byEvent[ev]; !ok {
				byEvent[ev] = h
			}
		}
	}
	return func(ctx context.Context, sd jobs.StoredDelivery) (string, error) {
		h, ok := byEvent[sd.Event]
		if !ok {
			return StatusIgnored, nil
		}
		// The requestInfo is how deliver learns the delivery's first
		// arrival and that it is a replay (the claim then records it as
		// recovered by replay), and how the stored status comes back.
		info := &requestInfo{received: sd.ReceivedAt, replay: true, verified: true}
		ctx = context.WithValue(ctx, requestInfoKey{}, info)
		// Handlers set a responder for the endpoint's answer; here it is
		// only set, never called.
		ctx = githubapp.InitializeResponder(ctx)
		logger := b.Logger.With().Str(githubapp.LogKeyEventType, sd.Event).
			Str(githubapp.LogKeyDeliveryID, sd.GUID).Bool("replay", true).Logger()
		ctx = logger.WithContext(ctx)

		err := h.Handle(ctx, sd.Event, sd.GUID, sd.Payload)
		info.mu.Lock()
		status := info.status
		info.mu.Unlock()
		if err != nil {
			var pe *PayloadError
			if errors.As(err, &pe) && !pe.recorded {
				// Refused before the delivery was described (the payload
				// does not parse as its event): the endpoint's error
				// callback would record it; here the replay does, which
				// gives it up.
				recordFailure(ctx, b.DB, delivery{event: sd.Event, id: sd.GUID, payload: sd.Payload, received: sd.ReceivedAt}, err)
			}
			return StatusFailed, fmt.Errorf("replay %s delivery %s: %w", sd.Event, sd.GUID, err)
		}
		if status == "" {
			// Every handler stores through deliver, which sets it.
			return StatusFailed, fmt.Errorf("replay %s delivery %s: the handler stored no status", sd.Event, sd.GUID)
		}
		return status, nil
	}
}
