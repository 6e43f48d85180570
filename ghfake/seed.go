package ghfake

import (
	"fmt"
	"math/rand"
	"strings"
	"time"
)

// The seeded world: deterministic from SeedOptions alone.

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
