package ghfake

// MinimumRequests is the fewest REST requests that load an installation's
// data as webhookdb's design asks for it: one per page of 100 of every
// collection (at least one per collection, even empty; a pull request's
// files take ceil(files/100) pages), plus one GET of each merged pull
// request, the only way to learn who merged it. Tests and the benchmark
// compare the requests served with it.
func (v World) MinimumRequests(installationID int64) int {
	pages := func(n int) int { return max((n+99)/100, 1) }
	repos := v.InstallationRepositories(installationID)
	total := pages(len(repos))
	for _, r := range repos {
		o, n := r.GetOwner().GetLogin(), r.GetName()
		all := v.IssuesAndPulls(o, n)
		comments := 0
		for _, it := range all {
			comments += len(v.IssueComments(o, n, it.GetNumber()))
		}
		pulls := v.PullRequests(o, n)
		total += pages(len(v.Labels(o, n))) + pages(len(v.Milestones(o, n))) + pages(len(pulls)) +
			pages(len(all)) + pages(comments)
		for _, pr := range pulls {
			num := pr.GetNumber()
			total += pages(len(v.PullRequestFiles(o, n, num))) + pages(len(v.Reviews(o, n, num))) +
				pages(len(v.ReviewComments(o, n, num)))
			if pr.MergedAt != nil {
				total++
			}
		}
	}
	return total
}
