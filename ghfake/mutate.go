package ghfake

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mutations change the world as people do on GitHub and send the webhook
// GitHub would send to the app. Delivery is synchronous: they return after
// the receiver answered, with the recorded *Delivery (nil when no live
// installation of the app covers the repository, so GitHub sends nothing).
// Errors are for changes GitHub would refuse (no such object).
//
// This file holds what they share: options, the sender, the lookups and
// the preamble (inRepo); each resource's <resource>_mutate.go holds its own.

// ErrNotFound is returned (wrapped) for an object that does not exist.
var ErrNotFound = errors.New("not found")

// Option adjusts a mutation.
type Option func(*mutOpts)

type mutOpts struct {
	by string
}

// By makes login the person doing the change (the webhook's sender).
func By(login string) Option { return func(m *mutOpts) { m.by = login } }

func opts(o []Option) mutOpts {
	var m mutOpts
	for _, f := range o {
		f(&m)
	}
	return m
}

// stamp is the server clock at GitHub's one-second resolution.
func (s *Server) stamp() time.Time { return s.ctl.now().UTC().Truncate(time.Second) }

// sender resolves By, else def, else the owner's first admin, else the owner.
func (w *world) sender(o mutOpts, def *account, owner *account) (*account, error) {
	if o.by != "" {
		a := w.accountsByLogin[strings.ToLower(o.by)]
		if a == nil {
			return nil, fmt.Errorf("user %s: %w", o.by, ErrNotFound)
		}
		return a, nil
	}
	if def != nil {
		return def, nil
	}
	if owner != nil && owner.isOrg {
		for _, m := range owner.members {
			if owner.admins[m] {
				return w.accountsByID[m], nil
			}
		}
		if len(owner.members) > 0 {
			return w.accountsByID[owner.members[0]], nil
		}
	}
	return owner, nil
}

// setChange sets *field to *v when v is given, and records the old value
// under key in a webhook's changes, as GitHub does.
func setChange(changes map[string]any, key string, field *string, v *string) {
	if v == nil {
		return
	}
	changes[key] = from(*field)
	*field = *v
}

func from(v any) map[string]any { return map[string]any{"from": v} }

// lookupRepo finds a live repository; the world lock is held.
func (w *world) lookupRepo(owner, name string) (*repo, error) {
	r := w.repo(owner, name)
	if r == nil {
		return nil, fmt.Errorf("repository %s/%s: %w", owner, name, ErrNotFound)
	}
	return r, nil
}

// lookupItem finds live issue or pull request number of r (not deleted,
// not transferred away); owner and name are the caller's spelling, for the
// error.
func (r *repo) lookupItem(owner, name string, number int) (*issue, error) {
	it := r.item(number)
	if it == nil || it.deleted || it.transferredTo != nil {
		return nil, fmt.Errorf("issue %s/%s#%d: %w", owner, name, number, ErrNotFound)
	}
	return it, nil
}

// lookupPull is lookupItem for a pull request.
func (r *repo) lookupPull(owner, name string, number int) (*issue, error) {
	it, err := r.lookupItem(owner, name, number)
	if err != nil {
		return nil, err
	}
	if it.pr == nil {
		return nil, fmt.Errorf("pull request %s/%s#%d: %w", owner, name, number, ErrNotFound)
	}
	return it, nil
}

func (w *world) account(login string) (*account, error) {
	a := w.accountsByLogin[strings.ToLower(login)]
	if a == nil {
		return nil, fmt.Errorf("account %s: %w", login, ErrNotFound)
	}
	return a, nil
}

// inRepo is the preamble of every mutation inside a repository. Under the
// world's write lock it looks up repository owner/name, runs find (when
// not nil) to look up what the change is about, resolves the sender (By,
// else the account find returns, else the owner's first admin) and runs
// change. The first error, in that order, is returned and nothing after it
// runs. The lock is released when inRepo returns: the caller fires the
// event change prepared only then, because the receiver may call back into
// the server.
func (s *Server) inRepo(owner, name string, o []Option, find func(r *repo) (by *account, err error),
	change func(r *repo, sender *account) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.w.lookupRepo(owner, name)
	if err != nil {
		return err
	}
	var by *account
	if find != nil {
		if by, err = find(r); err != nil {
			return err
		}
	}
	sender, err := s.w.sender(opts(o), by, r.owner)
	if err != nil {
		return err
	}
	return change(r, sender)
}
