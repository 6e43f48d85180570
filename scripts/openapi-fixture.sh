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
const DROP = new Set(["description", "summary", "title", "example", "examples", "externalDocs", "tags"]);
const NAMED = new Set(["properties", "patternProperties", "headers", "content"]);
function strip(v, parentKey) {
  if (Array.isArray(v)) return v.map((x) => strip(x, null));
  if (v === null || typeof v !== "object") return v;
  const named = NAMED.has(parentKey);
  const o = {};
  for (const [k, x] of Object.entries(v)) {
    if (!named && (DROP.has(k) || k.startsWith("x-"))) continue;
    // The children of a map of names are objects again.
    o[k] = strip(x, named ? null : k);
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

// Known error of the description: the list of installations inlines the
// installation schema with account's anyOf (a user or an enterprise)
// turned into allOf (both at once), which no installation satisfies.
// Point it at the installation schema every other route uses; fail when
// upstream changes, so the fix is dropped once it is not needed.
{
  const list = paths["/app/installations"].get.responses["200"].content["application/json"].schema;
  if (!list.items || !list.items.properties || !list.items.properties.account || !list.items.properties.account.allOf) {
    throw new Error("GET /app/installations: the account allOf fix is no longer needed; remove it");
  }
  list.items = { $ref: "#/components/schemas/installation" };
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

// A response keeps its description: OpenAPI requires one.
function stripResponses(rs) {
  const o = {};
  for (const [code, r] of Object.entries(rs)) {
    if (r.$ref) { o[code] = r; continue; }
    const { description, ...rest } = r;
    o[code] = { description: description || "Response", ...strip(rest, null) };
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
