package ghfake

import (
	"sync"
)

// The world is kept compact (no go-github values) so that 100,000 pull
// requests seed in seconds; JSON is rendered from it on demand. Each
// resource's record type lives in its own file (repositories.go,
// pulls.go...).

// world is everything the simulator knows; Server.mu guards it.
type world struct {
	appID           int64
	appSlug         string // installations name their app by slug too
	base            string
	nextID          int64
	accounts        []*account
	accountsByID    map[int64]*account
	accountsByLogin map[string]*account // lower-case login
	repos           []*repo
	reposByID       map[int64]*repo
	reposByName     map[string]*repo // lower-case owner/name
	renamed         map[string]*repo // lower-case old owner/name -> repo, for 301s
	installations   map[int64]*installation
	instOrder       []int64
	commentsByID    map[int64]*comment
	rcByID          map[int64]*reviewComment

	cacheMu   sync.Mutex // rendering caches, filled under the read lock
	repoCache map[int64]cachedJSON
}

func newWorld(appID int64) *world {
	return &world{
		appID:           appID,
		nextID:          1,
		accountsByID:    map[int64]*account{},
		accountsByLogin: map[string]*account{},
		reposByID:       map[int64]*repo{},
		reposByName:     map[string]*repo{},
		renamed:         map[string]*repo{},
		installations:   map[int64]*installation{},
		commentsByID:    map[int64]*comment{},
		rcByID:          map[int64]*reviewComment{},
		repoCache:       map[int64]cachedJSON{},
	}
}

// id hands out ids from one space, deterministic in the order of creation.
func (w *world) id() int64 {
	w.nextID++
	return w.nextID
}
