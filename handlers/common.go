package handlers

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// storeEnvelope writes what every payload carries around its main object:
// the sender, the repository (a full object) and the installation, with
// the link that the installation covers the repository. Their staleness
// never blocks the main object. The users wait for the end of the
// transaction (process.Later).
func (b *Base) storeEnvelope(ctx context.Context, tx *deliveryTx, repo *github.Repository, inst *github.Installation, sender *github.User) error {
	if tx.envelopeStored {
		return nil
	}
	if err := storeFullInstallation(ctx, tx, inst); err != nil {
		return err
	}
	env := process.Envelope{Repository: repo, Meta: tx.meta}
	if sender != nil && sender.ID != nil && sender.Login != nil {
		env.Sender = sender
	}
	// A delivery from an installation about a repository proves the
	// installation covers it.
	if repo != nil && repo.ID != nil && inst != nil && inst.ID != nil {
		env.InstallationID = inst.GetID()
	}
	if env.Sender == nil && env.Repository == nil {
		return nil
	}
	if err := process.Envelopes(ctx, tx, []process.Envelope{env}); err != nil {
		return fmt.Errorf("store the sender and repository %s: %w", repo.GetFullName(), err)
	}
	return nil
}

// storeFullInstallation writes an installation the payload carries whole
// (most events carry only its id).
func storeFullInstallation(ctx context.Context, tx *deliveryTx, inst *github.Installation) error {
	if inst == nil || inst.ID == nil || inst.Account == nil {
		return nil
	}
	if _, err := process.Installation(ctx, tx, inst, tx.meta); err != nil {
		return fmt.Errorf("store installation %d: %w", inst.GetID(), err)
	}
	return nil
}

// linkInstallation writes a full installation and records that it covers
// repo, which a delivery from it about the repository proves.
func linkInstallation(ctx context.Context, tx *deliveryTx, inst *github.Installation, repo *github.Repository) error {
	if err := storeFullInstallation(ctx, tx, inst); err != nil {
		return err
	}
	if inst == nil || inst.ID == nil || repo == nil || repo.ID == nil {
		return nil
	}
	return process.LinkInstallationRepository(ctx, tx, inst.GetID(), repo.GetID())
}

// ownerRepo splits a repository's full name.
func ownerRepo(r *github.Repository) (owner, name string) {
	if o, n, ok := strings.Cut(r.GetFullName(), "/"); ok {
		return o, n
	}
	return r.GetOwner().GetLogin(), r.GetName()
}

// payloadChanges are the "changes" of a payload that go-github v60's
// EditChange leaves out.
type payloadChanges struct {
	Name *struct {
		From string `json:"from"`
	} `json:"name,omitempty"`
	NewIssue      *github.Issue      `json:"new_issue,omitempty"`
	NewRepository *github.Repository `json:"new_repository,omitempty"`
	OldIssue      *github.Issue      `json:"old_issue,omitempty"`
	OldRepository *github.Repository `json:"old_repository,omitempty"`
}

// invalid makes a PayloadError for a payload that lacks what its event needs.
func invalid(d delivery, format string, args ...any) error {
	return &PayloadError{Event: d.event, DeliveryID: d.id, Err: fmt.Errorf(format, args...)}
}

// deleteAndBury applies a delete GitHub announced and buries the id, so a
// late update of the same object delivered after it is stale instead of
// bringing the row back.
func deleteAndBury(ctx context.Context, tx *deliveryTx, kind string, id int64, del func() error) error {
	if err := del(); err != nil {
		return err
	}
	return process.Bury(ctx, tx, kind, id, tx.meta)
}

// decode parses a payload into its event type and describes its delivery;
// a payload that does not parse is a PayloadError (400). The description
// comes from the parsed event when it has the envelope's getters (every
// event about a repository does): the payload, tens of kilobytes, is then
// parsed once, not twice.
func decode[T any](eventType, deliveryID string, payload []byte) (*T, delivery, error) {
	var ev T
	if err := parsePayload(eventType, deliveryID, payload, &ev); err != nil {
		return nil, delivery{}, err
	}
	if e, ok := any(&ev).(envelopeGetters); ok {
		return &ev, delivery{
			event:          eventType,
			id:             deliveryID,
			action:         e.GetAction(),
			installationID: e.GetInstallation().GetID(),
			repoID:         e.GetRepo().GetID(),
			payload:        payload,
		}, nil
	}
	d, err := newDelivery(eventType, deliveryID, payload)
	if err != nil {
		return nil, delivery{}, err
	}
	return &ev, d, nil
}

// envelopeGetters are go-github's getters of the fields newDelivery reads.
type envelopeGetters interface {
	GetAction() string
	GetInstallation() *github.Installation
	GetRepo() *github.Repository
}
