package ghfake

import (
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// AddUser adds a user account (no webhook: GitHub sends none).
func (s *Server) AddUser(login string) (*github.User, error) {
	return s.addAccount(login, false)
}

// AddOrganization adds an organization; members (logins) join it, the
// first as an admin.
func (s *Server) AddOrganization(login string, members ...string) (*github.User, error) {
	u, err := s.addAccount(login, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.w.accountsByLogin[strings.ToLower(login)]
	for i, m := range members {
		a, err := s.w.account(m)
		if err != nil {
			return nil, err
		}
		org.members = append(org.members, a.id)
		if i == 0 {
			org.admins[a.id] = true
		}
	}
	return u, nil
}

func (s *Server) addAccount(login string, isOrg bool) (*github.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if login == "" || s.w.accountsByLogin[strings.ToLower(login)] != nil {
		return nil, fmt.Errorf("account %q: already exists or empty", login)
	}
	a := s.w.addAccount(login, isOrg, s.stamp())
	return s.w.user(a), nil
}
