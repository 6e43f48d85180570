package readapi

// endpoints are every route of the read API; each file serves its own.
// docs/read-api.md lists them with the fields they serve.
func (a *API) endpoints() []endpoint {
	var eps []endpoint
	eps = append(eps, repositoryEndpoints()...)
	eps = append(eps, pullEndpoints()...)
	eps = append(eps, issueEndpoints()...)
	eps = append(eps, labelEndpoints()...)
	eps = append(eps, milestoneEndpoints()...)
	eps = append(eps, userEndpoints()...)
	eps = append(eps, installationEndpoints()...)
	return eps
}
