package ghfake

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The world is kept compact (no go-github values) so that 100,000 pull
// requests seed in seconds; JSON is rendered from it on demand.

type account struct {
	id        int64
	login     string
	isOrg     bool
	name      string
	createdAt time.Time
	members   []int64 // organizations: member user ids
	admins    map[int64]bool
}

type repo struct {
	id            int64
	owner         *account
	name          string
	private       bool
	description   string
	language      string
	defaultBranch string
	createdAt     time.Time
	updatedAt     time.Time
	pushedAt      time.Time
	deleted       bool
	stars, forks  int
	items         []*issue // by number-1
	labels        []*label
	milestones    []*milestone
	collaborators map[int64]string // user id -> permission (pull, push, admin)
	openCount     int              // open issues and pulls
	version       uint64           // bumped on every change below the repo
}

type label struct {
	id          int64
	name        string
	color       string
	description string
	isDefault   bool
}

type milestone struct {
	id           int64
	number       int
	title        string
	description  string
	state        string
	creator      *account
	createdAt    time.Time
	updatedAt    time.Time
	closedAt     time.Time
	dueOn        time.Time
	openIssues   int
	closedIssues int
	deleted      bool
}

type issue struct {
	id            int64
	repo          *repo
	number        int
	title, body   string
	user          *account
	assignee      *account
	state         string
	stateReason   string
	locked        bool
	labels        []string
	milestone     *milestone
	createdAt     time.Time
	updatedAt     time.Time
	closedAt      time.Time
	closedBy      *account
	comments      []*comment
	pr            *pull
	deleted       bool
	transferredTo *issue
}

type pull struct {
	id             int64
	headRef        string
	baseRef        string
	headSHA        string
	baseSHA        string
	draft          bool
	merged         bool
	mergedAt       time.Time
	mergedBy       *account
	mergeCommitSHA string
	commits        int
	files          int         // number of files; their content derives from id and rev
	rev            int         // bumped by synchronize
	mergeableRead  atomic.Bool // set by a read under the read lock
	reviews        []*review
	reviewComments []*reviewComment
}

type comment struct {
	id        int64
	issue     *issue
	user      *account
	body      string
	createdAt time.Time
	updatedAt time.Time
}

type review struct {
	id          int64
	user        *account
	state       string
	body        string
	commitID    string
	submittedAt time.Time
}

type reviewComment struct {
	id        int64
	reviewID  int64
	user      *account
	path      string
	line      int
	body      string
	inReplyTo int64
	commitID  string
	createdAt time.Time
	updatedAt time.Time
}

type installation struct {
	id        int64
	account   *account
	all       bool
	repos     map[int64]bool // when !all
	createdAt time.Time
	updatedAt time.Time
	deleted   bool
}

type world struct {
	appID           int64
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

func (w *world) addAccount(login string, isOrg bool, at time.Time) *account {
	a := &account{id: w.id(), login: login, isOrg: isOrg, createdAt: at, admins: map[int64]bool{}}
	a.name = strings.ToUpper(login[:1]) + login[1:]
	w.accounts = append(w.accounts, a)
	w.accountsByID[a.id] = a
	w.accountsByLogin[strings.ToLower(login)] = a
	return a
}

func (w *world) addRepo(owner *account, name string, at time.Time) *repo {
	r := &repo{id: w.id(), owner: owner, name: name, defaultBranch: "main", createdAt: at, updatedAt: at, pushedAt: at,
		collaborators: map[int64]string{}, language: "Go", description: "The " + name + " repository of " + owner.login}
	w.repos = append(w.repos, r)
	w.reposByID[r.id] = r
	w.reposByName[strings.ToLower(owner.login+"/"+name)] = r
	return r
}

func (w *world) repo(owner, name string) *repo {
	r := w.reposByName[strings.ToLower(owner+"/"+name)]
	if r == nil || r.deleted {
		return nil
	}
	return r
}

func (w *world) addInstallation(a *account, all bool, repoIDs []int64, at time.Time) *installation {
	in := &installation{id: w.id(), account: a, all: all, repos: map[int64]bool{}, createdAt: at, updatedAt: at}
	for _, id := range repoIDs {
		in.repos[id] = true
	}
	w.installations[in.id] = in
	w.instOrder = append(w.instOrder, in.id)
	return in
}

// installationFor is the live installation covering r, or nil.
func (w *world) installationFor(r *repo) *installation {
	for _, id := range w.instOrder {
		in := w.installations[id]
		if in.deleted || in.account != r.owner {
			continue
		}
		if in.all || in.repos[r.id] {
			return in
		}
	}
	return nil
}

func (w *world) installationOf(a *account) *installation {
	for _, id := range w.instOrder {
		in := w.installations[id]
		if !in.deleted && in.account == a {
			return in
		}
	}
	return nil
}

func (in *installation) covers(r *repo) bool {
	return !in.deleted && !r.deleted && in.account == r.owner && (in.all || in.repos[r.id])
}

// reposOf lists the live repositories of an installation in id order.
func (w *world) reposOf(in *installation) []*repo {
	var out []*repo
	for _, r := range w.repos {
		if in.covers(r) {
			out = append(out, r)
		}
	}
	return out
}

// permission is what user u may do in r: "admin", "push", "pull" or "".
func (w *world) permission(u *account, r *repo) string {
	if r.deleted {
		return ""
	}
	if r.owner == u {
		return "admin"
	}
	if p, ok := r.collaborators[u.id]; ok {
		return p
	}
	if r.owner.isOrg {
		if r.owner.admins[u.id] {
			return "admin"
		}
		for _, m := range r.owner.members {
			if m == u.id {
				return "push"
			}
		}
	}
	if !r.private {
		return "pull"
	}
	return ""
}

func (r *repo) item(number int) *issue {
	if number < 1 || number > len(r.items) {
		return nil
	}
	return r.items[number-1]
}

func (r *repo) label(name string) *label {
	for _, l := range r.labels {
		if strings.EqualFold(l.name, name) {
			return l
		}
	}
	return nil
}

func (r *repo) milestone(number int) *milestone {
	for _, m := range r.milestones {
		if m.number == number && !m.deleted {
			return m
		}
	}
	return nil
}

// setState moves an issue between open and closed, keeping the counters of
// its repository and milestone right.
func (it *issue) setState(state string) {
	if it.state == state {
		return
	}
	if state == "open" {
		it.repo.openCount++
		if it.milestone != nil {
			it.milestone.openIssues++
			it.milestone.closedIssues--
		}
	} else {
		it.repo.openCount--
		if it.milestone != nil {
			it.milestone.openIssues--
			it.milestone.closedIssues++
		}
	}
	it.state = state
}

func (it *issue) setMilestone(m *milestone) {
	if it.milestone != nil {
		if it.state == "open" {
			it.milestone.openIssues--
		} else {
			it.milestone.closedIssues--
		}
	}
	it.milestone = m
	if m != nil {
		if it.state == "open" {
			m.openIssues++
		} else {
			m.closedIssues++
		}
	}
}

// detach takes an issue out of the counters (delete, transfer).
func (it *issue) detach() {
	if it.state == "open" {
		it.repo.openCount--
	}
	if it.milestone != nil {
		if it.state == "open" {
			it.milestone.openIssues--
		} else {
			it.milestone.closedIssues--
		}
	}
}

var seedWords = []string{"fix", "add", "remove", "refactor", "update", "parser", "cache", "login", "docs", "tests", "build", "logging", "metrics", "config", "race", "timeout", "retry", "index", "query", "schema"}
var labelSeeds = []struct{ name, color, desc string }{
	{"bug", "d73a4a", "Something isn't working"},
	{"enhancement", "a2eeef", "New feature or request"},
	{"documentation", "0075ca", "Improvements or additions to documentation"},
	{"good first issue", "7057ff", "Good for newcomers"},
	{"help wanted", "008672", "Extra attention is needed"},
	{"question", "d876e3", "Further information is requested"},
	{"wontfix", "ffffff", "This will not be worked on"},
	{"duplicate", "cfd3d7", "This issue or pull request already exists"},
}

func def(n, d int) int {
	if n == 0 {
		return d
	}
	if n < 0 {
		return 0
	}
	return n
}

// seedEpoch is when the seeded history starts; everything seeded happens
// before the present so later mutations are always newer.
var seedEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Seed adds a deterministic world of the given size. Seeding twice adds a
// second set with new names.
func (s *Server) Seed(o SeedOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.seed(o)
}

func sha(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
}

func (w *world) seed(o SeedOptions) error {
	rng := rand.New(rand.NewSource(o.Seed))
	nAcc := def(o.Accounts, 1)
	nUsers := def(o.Users, 5)
	nRepos := def(o.ReposPerAccount, 2)
	nPulls := def(o.PullsPerRepo, 3)
	nIssues := def(o.IssuesPerRepo, 3)
	nFiles := def(o.FilesPerPull, 3)
	nComments := def(o.CommentsPerIssue, 1)
	nLabels := def(o.LabelsPerRepo, 3)
	nMilestones := def(o.MilestonesPerRepo, 1)
	nReviews := def(o.ReviewsPerPull, 1)
	nRC := def(o.ReviewCommentsPerPull, 1)

	at := seedEpoch
	tick := func() time.Time { at = at.Add(time.Duration(1+rng.Intn(600)) * time.Second); return at }

	unique := func(prefix string, i int) string {
		name := fmt.Sprintf("%s-%d", prefix, i)
		for k := 0; w.accountsByLogin[name] != nil; k++ {
			name = fmt.Sprintf("%s-%d-%d", prefix, i, k)
		}
		return name
	}
	var users []*account
	for i := 0; i < nUsers; i++ {
		users = append(users, w.addAccount(unique("user", i), false, tick()))
	}
	pick := func() *account {
		if len(users) == 0 {
			return nil
		}
		return users[rng.Intn(len(users))]
	}
	for a := 0; a < nAcc; a++ {
		org := w.addAccount(unique("org", a), true, tick())
		for i, u := range users {
			org.members = append(org.members, u.id)
			if i == 0 {
				org.admins[u.id] = true
			}
		}
		var repoIDs []int64
		for ri := 0; ri < nRepos; ri++ {
			r := w.addRepo(org, fmt.Sprintf("repo-%d", ri), tick())
			r.stars, r.forks = rng.Intn(500), rng.Intn(50)
			repoIDs = append(repoIDs, r.id)
			for li := 0; li < nLabels; li++ {
				ls := labelSeeds[li%len(labelSeeds)]
				name := ls.name
				if li >= len(labelSeeds) {
					name = fmt.Sprintf("%s-%d", ls.name, li/len(labelSeeds))
				}
				r.labels = append(r.labels, &label{id: w.id(), name: name, color: ls.color, description: ls.desc, isDefault: li < len(labelSeeds)})
			}
			for mi := 0; mi < nMilestones; mi++ {
				t := tick()
				r.milestones = append(r.milestones, &milestone{id: w.id(), number: mi + 1, title: fmt.Sprintf("v%d.0", mi+1),
					description: "Release " + fmt.Sprint(mi+1), state: "open", creator: pick(), createdAt: t, updatedAt: t, dueOn: t.AddDate(0, 3, 0).Truncate(24 * time.Hour)})
			}
			total := nPulls + nIssues
			pullsLeft := nPulls
			for n := 1; n <= total; n++ {
				// Interleave pulls and issues deterministically.
				isPull := pullsLeft > 0 && (total-n+1 == pullsLeft || rng.Intn(total) < nPulls)
				if isPull {
					pullsLeft--
				}
				t := tick()
				user := pick()
				if user == nil {
					user = org
				}
				it := &issue{id: w.id(), repo: r, number: n, user: user, state: "open", createdAt: t, updatedAt: t,
					title: strings.Join([]string{seedWords[rng.Intn(len(seedWords))], seedWords[rng.Intn(len(seedWords))], seedWords[rng.Intn(len(seedWords))]}, " ")}
				it.body = fmt.Sprintf("Details of #%d: %s.", n, it.title)
				if len(r.labels) > 0 && rng.Intn(2) == 0 {
					it.labels = []string{r.labels[rng.Intn(len(r.labels))].name}
				}
				if isPull {
					p := &pull{id: w.id(), headRef: fmt.Sprintf("feature-%d", n), baseRef: r.defaultBranch, headSHA: sha(rng), baseSHA: sha(rng),
						commits: 1 + rng.Intn(5), files: nFiles, draft: rng.Intn(10) == 0}
					if o.MaxFilesPerPull > 0 {
						p.files = skewedFiles(o.Seed, a, ri, n, o.MaxFilesPerPull, pullsLeft == nPulls-1)
					}
					it.pr = p
				}
				r.items = append(r.items, it)
				r.openCount++
				if len(r.milestones) > 0 && rng.Intn(3) == 0 {
					it.setMilestone(r.milestones[rng.Intn(len(r.milestones))])
				}
				for ci := 0; ci < nComments; ci++ {
					ct := tick()
					c := &comment{id: w.id(), issue: it, user: pick(), body: fmt.Sprintf("Comment %d on #%d.", ci+1, n), createdAt: ct, updatedAt: ct}
					if c.user == nil {
						c.user = org
					}
					it.comments = append(it.comments, c)
					w.commentsByID[c.id] = c
				}
				if p := it.pr; p != nil {
					for vi := 0; vi < nReviews; vi++ {
						states := []string{"APPROVED", "COMMENTED", "CHANGES_REQUESTED"}
						rv := &review{id: w.id(), user: orDefault(pick(), org), state: states[rng.Intn(3)], body: "Looks reviewed.", commitID: p.headSHA, submittedAt: tick()}
						p.reviews = append(p.reviews, rv)
					}
					for ci := 0; ci < nRC; ci++ {
						ct := tick()
						var rid int64
						if len(p.reviews) > 0 {
							rid = p.reviews[ci%len(p.reviews)].id
						}
						rc := &reviewComment{id: w.id(), reviewID: rid, user: orDefault(pick(), org), path: fileName(p, 0), line: 1 + rng.Intn(10),
							body: "Why this line?", commitID: p.headSHA, createdAt: ct, updatedAt: ct}
						p.reviewComments = append(p.reviewComments, rc)
						w.rcByID[rc.id] = rc
					}
				}
				// Close about a third; merge most closed pulls.
				if rng.Intn(3) == 0 {
					ct := tick()
					it.setState("closed")
					it.closedAt, it.updatedAt, it.closedBy = ct, ct, orDefault(pick(), org)
					it.stateReason = "completed"
					if p := it.pr; p != nil && rng.Intn(4) != 0 {
						p.merged, p.mergedAt, p.mergedBy, p.mergeCommitSHA = true, ct, it.closedBy, sha(rng)
					}
				} else if len(it.comments) > 0 {
					it.updatedAt = it.comments[len(it.comments)-1].updatedAt
				}
			}
			r.updatedAt, r.pushedAt = tick(), at
		}
		if !o.NoInstall {
			w.addInstallation(org, true, repoIDs, tick())
		}
	}
	return nil
}

// skewedFiles is the file count of pull request n of repository ri of
// account a: most for the repository's first pull request (so lists of
// several full pages exist), else 1 + most*u^5 for a uniform u, which puts
// the median near 3% of most and about one pull in five above a third of
// it. Its own generator keeps the world's main sequence untouched.
func skewedFiles(seed int64, a, ri, n, most int, first bool) int {
	if first {
		return most
	}
	rng := rand.New(rand.NewSource(seed*1_000_003 + int64(a)*7_919 + int64(ri)*104_729 + int64(n)))
	u := rng.Float64()
	return min(1+int(float64(most)*u*u*u*u*u), most)
}

func orDefault(a, d *account) *account {
	if a == nil {
		return d
	}
	return a
}

// ---- pull request files, derived from the pull's id and revision ----

type fileData struct {
	name, prev, status, sha, patch string
	additions, deletions           int
}

func fileName(p *pull, i int) string {
	return fmt.Sprintf("pkg/mod%d/file%d.go", (p.id+int64(i))%7, i)
}

func (p *pull) fileList() []fileData {
	out := make([]fileData, 0, p.files)
	for i := 0; i < p.files; i++ {
		rng := rand.New(rand.NewSource(p.id*131 + int64(p.rev)*7919 + int64(i)))
		f := fileData{name: fileName(p, i), sha: sha(rng)}
		switch i % 4 {
		case 0, 3:
			f.status = "modified"
		case 1:
			f.status = "added"
		case 2:
			if i%8 == 2 {
				f.status = "renamed"
				f.prev = fmt.Sprintf("pkg/old%d/file%d.go", p.id%5, i)
			} else {
				f.status = "removed"
			}
		}
		var b strings.Builder
		switch f.status {
		case "added":
			f.additions = 1 + rng.Intn(20)
			fmt.Fprintf(&b, "@@ -0,0 +1,%d @@\n", f.additions)
			for j := 0; j < f.additions; j++ {
				fmt.Fprintf(&b, "+line %d of revision %d\n", j+1, p.rev)
			}
		case "removed":
			f.deletions = 1 + rng.Intn(20)
			fmt.Fprintf(&b, "@@ -1,%d +0,0 @@\n", f.deletions)
			for j := 0; j < f.deletions; j++ {
				fmt.Fprintf(&b, "-line %d\n", j+1)
			}
		default:
			f.additions, f.deletions = 1+rng.Intn(5), rng.Intn(5)
			fmt.Fprintf(&b, "@@ -10,%d +10,%d @@ func f() {\n", f.deletions+1, f.additions+1)
			b.WriteString(" \tcontext\n")
			for j := 0; j < f.deletions; j++ {
				fmt.Fprintf(&b, "-\told %d\n", j)
			}
			for j := 0; j < f.additions; j++ {
				fmt.Fprintf(&b, "+\tnew %d rev %d\n", j, p.rev)
			}
		}
		f.patch = strings.TrimSuffix(b.String(), "\n")
		out = append(out, f)
	}
	return out
}

func (p *pull) totals() (adds, dels int) {
	for _, f := range p.fileList() {
		adds += f.additions
		dels += f.deletions
	}
	return
}

// ---- cached, filtered orderings of a repository's items ----

type listKey struct {
	repoID    int64
	pulls     bool
	state     string
	sort      string
	direction string
}

type listCache struct {
	version uint64
	items   []*issue
}

// listItems returns the repository's issues (and pulls, for the issue list)
// filtered and sorted; the caller holds the world lock (read).
func (s *Server) listItems(r *repo, pulls bool, state, sortBy, direction string) []*issue {
	key := listKey{r.id, pulls, state, sortBy, direction}
	s.cacheMu.Lock()
	c, ok := s.lists[key]
	s.cacheMu.Unlock()
	if ok && c.version == r.version {
		return c.items
	}
	var out []*issue
	for _, it := range r.items {
		if it == nil || it.deleted || it.transferredTo != nil {
			continue
		}
		if pulls && it.pr == nil {
			continue
		}
		if state != "all" && it.state != state {
			continue
		}
		out = append(out, it)
	}
	asc := direction == "asc"
	switch sortBy {
	case "updated":
		sort.SliceStable(out, func(i, j int) bool {
			if asc {
				return out[i].updatedAt.Before(out[j].updatedAt)
			}
			return out[i].updatedAt.After(out[j].updatedAt)
		})
	case "comments":
		sort.SliceStable(out, func(i, j int) bool {
			if asc {
				return len(out[i].comments) < len(out[j].comments)
			}
			return len(out[i].comments) > len(out[j].comments)
		})
	default: // created: number order is creation order
		if !asc {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	s.cacheMu.Lock()
	s.lists[key] = listCache{version: r.version, items: out}
	s.cacheMu.Unlock()
	return out
}

// ---- rendered pages ----

// pageKey names one rendered list page; a change in the repository bumps
// its version and so misses the cache.
type pageKey struct {
	repoID  int64
	version uint64
	base    string
	path    string
	query   string
}

type pageCache struct {
	entries map[pageKey]resp
	order   []pageKey // oldest first, for eviction
	bytes   int
}

// cachedPage answers a list page from the cache, or builds and keeps it.
// Re-scans (If-None-Match) then cost a lookup instead of a re-render.
func (s *Server) cachedPage(c *reqCtx, r *repo, build func() resp) resp {
	if s.opts.PageCacheBytes <= 0 {
		return build()
	}
	key := pageKey{r.id, r.version, s.w.base, c.r.URL.Path, c.r.URL.RawQuery}
	s.cacheMu.Lock()
	if out, ok := s.pages.entries[key]; ok {
		s.cacheMu.Unlock()
		return out
	}
	s.cacheMu.Unlock()
	out := build()
	limit := s.opts.PageCacheBytes
	if limit <= 0 || out.status != 200 || len(out.body) > limit/8 {
		return out
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if _, ok := s.pages.entries[key]; ok {
		return out
	}
	for s.pages.bytes+len(out.body) > limit && len(s.pages.order) > 0 {
		old := s.pages.order[0]
		s.pages.order = s.pages.order[1:]
		s.pages.bytes -= len(s.pages.entries[old].body)
		delete(s.pages.entries, old)
	}
	s.pages.entries[key] = out
	s.pages.order = append(s.pages.order, key)
	s.pages.bytes += len(out.body)
	return out
}

type sortedKey struct {
	repoID          int64
	kind, by, order string
}

type sortedEntry struct {
	version uint64
	v       any
}

// sortedOnce keeps a repository-wide sorted list until the repository
// changes, so paging through 100,000 comments sorts them once.
func (s *Server) sortedOnce(r *repo, kind, by, order string, build func() any) any {
	key := sortedKey{r.id, kind, by, order}
	s.cacheMu.Lock()
	e, ok := s.sorted[key]
	s.cacheMu.Unlock()
	if ok && e.version == r.version {
		return e.v
	}
	v := build()
	s.cacheMu.Lock()
	s.sorted[key] = sortedEntry{r.version, v}
	s.cacheMu.Unlock()
	return v
}
