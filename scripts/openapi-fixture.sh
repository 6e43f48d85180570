#!/usr/bin/env bash
# Extracts from GitHub's published OpenAPI description (npm @octokit/openapi,
# pinned) the operations ghfake serves, with their 2xx responses and every
# component they reference, into ghfake/testdata/openapi.json, so that
# ghfake's OpenAPI test runs without network.
#
# Add an operation to OPS when ghfake serves a new route, then rerun:
#   scripts/openapi-fixture.sh
set -euo pipefail

VERSION=23.0.2
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/ghfake/testdata/openapi.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npm install --silent --no-audit --no-fund --prefix "$tmp" "@octokit/openapi@$VERSION" >/dev/null
src="$tmp/node_modules/@octokit/openapi/generated/api.github.com.json"

# "METHOD path" as in GitHub's description.
OPS='
GET /app
GET /app/installations
GET /app/installations/{installation_id}
POST /app/installations/{installation_id}/access_tokens
GET /repos/{owner}/{repo}/installation
GET /orgs/{org}/installation
GET /users/{username}/installation
GET /app/hook/deliveries
GET /app/hook/deliveries/{delivery_id}
POST /app/hook/deliveries/{delivery_id}/attempts
GET /installation/repositories
GET /user
GET /user/installations
GET /user/installations/{installation_id}/repositories
GET /users/{username}
GET /rate_limit
GET /repos/{owner}/{repo}
GET /repos/{owner}/{repo}/pulls
GET /repos/{owner}/{repo}/pulls/comments
GET /repos/{owner}/{repo}/pulls/{pull_number}
GET /repos/{owner}/{repo}/pulls/{pull_number}/files
GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews
GET /repos/{owner}/{repo}/pulls/{pull_number}/comments
GET /repos/{owner}/{repo}/issues
GET /repos/{owner}/{repo}/issues/comments
GET /repos/{owner}/{repo}/issues/{issue_number}
GET /repos/{owner}/{repo}/issues/{issue_number}/comments
GET /repos/{owner}/{repo}/labels
GET /repos/{owner}/{repo}/labels/{name}
GET /repos/{owner}/{repo}/milestones
GET /repos/{owner}/{repo}/milestones/{milestone_number}
GET /repos/{owner}/{repo}/collaborators/{username}/permission
'

OPS="$OPS" node - "$src" "$out" "$VERSION" <<'JS'
const fs = require("fs");
const [src, out, version] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(src, "utf8"));

// Documentation only: dropped to keep the fixture small. Not dropped
// where the key is a name (a property, a component), only where it is
// an OpenAPI keyword.
const DROP = new Set(["description", "summary", "example", "examples", "externalDocs", "tags", "x-github", "x-octokit", "x-github-breaking-changes"]);
const NAMED = new Set(["properties", "schemas", "parameters", "responses", "headers", "content", "paths"]);
function strip(v, parentKey) {
  if (Array.isArray(v)) return v.map((x) => strip(x));
  if (v === null || typeof v !== "object") return v;
  const o = {};
  for (const [k, x] of Object.entries(v)) {
    // A response object must keep its description (OpenAPI requires it).
    if (!NAMED.has(parentKey) && DROP.has(k) && !(k === "description" && parentKey === "response")) continue;
    o[k] = strip(x, k === "responses" ? "responses" : k);
  }
  return o;
}

const paths = {};
for (const line of process.env.OPS.split("\n").map((s) => s.trim()).filter(Boolean)) {
  const [method, p] = line.split(" ");
  const op = doc.paths[p] && doc.paths[p][method.toLowerCase()];
  if (!op) throw new Error("not in the description: " + line);
  const responses = {};
  for (const [code, r] of Object.entries(op.responses)) {
    if (/^2/.test(code)) responses[code] = r;
  }
  const kept = { operationId: op.operationId, parameters: op.parameters || [], responses };
  paths[p] = paths[p] || {};
  paths[p][method.toLowerCase()] = kept;
}

// Components referenced, transitively.
const components = {};
const seen = new Set();
function walk(v) {
  if (Array.isArray(v)) return v.forEach(walk);
  if (v === null || typeof v !== "object") return;
  for (const [k, x] of Object.entries(v)) {
    if (k === "$ref" && typeof x === "string") {
      if (seen.has(x)) continue;
      seen.add(x);
      const m = x.match(/^#\/components\/([^/]+)\/(.+)$/);
      if (!m) throw new Error("unsupported $ref " + x);
      const [, kind, name] = m;
      if (kind === "examples") continue;
      const c = doc.components[kind][name];
      if (!c) throw new Error("dangling $ref " + x);
      (components[kind] = components[kind] || {})[name] = c;
      walk(c);
    } else if (k !== "examples" && k !== "example") {
      walk(x);
    }
  }
}
walk(paths);

// Responses are objects whose description must stay; mark them so strip
// keeps it.
function stripResponses(rs) {
  const o = {};
  for (const [code, r] of Object.entries(rs)) {
    if (r.$ref) { o[code] = r; continue; }
    const { description, ...rest } = r;
    o[code] = { description: description || "Response", ...strip(rest, "response") };
  }
  return o;
}
for (const ops of Object.values(paths)) {
  for (const op of Object.values(ops)) {
    op.parameters = strip(op.parameters);
    op.responses = stripResponses(op.responses);
  }
}
const comps = {};
for (const [kind, byName] of Object.entries(components)) {
  comps[kind] = {};
  for (const name of Object.keys(byName).sort()) {
    comps[kind][name] = kind === "responses" ? stripResponses({ r: byName[name] }).r : strip(byName[name]);
  }
}

const fixture = {
  openapi: doc.openapi,
  info: { title: doc.info.title, version: doc.info.version, "x-source": "@octokit/openapi@" + version + " generated/api.github.com.json" },
  paths,
  components: comps,
};
fs.writeFileSync(out, JSON.stringify(fixture, null, 1) + "\n");
console.log(out + ": " + Object.keys(paths).length + " paths, " + fs.statSync(out).size + " bytes");
JS
