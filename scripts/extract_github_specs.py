"""Regenerate the GitHub spec subsets the stand-in validates against.

The stand-in checks every request it receives against GitHub's official REST description and every
webhook it sends against GitHub's webhook payload schemas. The full description is ~13 MB, so we keep
only the operations the stand-in serves plus the components they reference.

It also saves real webhook payloads from @octokit/webhooks-examples as test fixtures
(tests/fixtures/webhooks/<event>.<action>[.case].json). The package has no merged pull request and no
comment on a pull request, so those two are derived from real ones by the smallest change GitHub makes.

Usage (the npm packages are installed outside the repository, in a scratch folder):

    npm install --prefix <scratch> @octokit/openapi@23.0.2 @octokit/webhooks-schemas@7.6.1 \
        @octokit/webhooks-examples@7.6.1
    python scripts/extract_github_specs.py <scratch>/node_modules
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OPENAPI_PACKAGE = "@octokit/openapi"
OPENAPI_VERSION = "23.0.2"
WEBHOOKS_PACKAGE = "@octokit/webhooks-schemas"
WEBHOOKS_VERSION = "7.6.1"
EXAMPLES_PACKAGE = "@octokit/webhooks-examples"
EXAMPLES_VERSION = "7.6.1"

R = "/repos/{owner}/{repo}"
# (method, path) of every operation the stand-in serves. Keep in step with the handlers in bot/standin/rest/.
SERVED: list[tuple[str, str]] = [
    ("get", "/app"),
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/user"),
    ("get", R),
    ("get", f"{R}/installation"),
    ("get", f"{R}/branches"),
    ("get", f"{R}/branches/{{branch}}"),
    ("get", f"{R}/git/ref/{{ref}}"),
    ("get", f"{R}/git/matching-refs/{{ref}}"),
    ("post", f"{R}/git/refs"),
    ("patch", f"{R}/git/refs/{{ref}}"),
    ("delete", f"{R}/git/refs/{{ref}}"),
    ("post", f"{R}/git/blobs"),
    ("get", f"{R}/git/blobs/{{file_sha}}"),
    ("post", f"{R}/git/trees"),
    ("get", f"{R}/git/trees/{{tree_sha}}"),
    ("post", f"{R}/git/commits"),
    ("get", f"{R}/git/commits/{{commit_sha}}"),
    ("get", f"{R}/commits/{{ref}}"),
    ("get", f"{R}/contents/{{path}}"),
    ("put", f"{R}/contents/{{path}}"),
    ("get", f"{R}/pulls"),
    ("post", f"{R}/pulls"),
    ("get", f"{R}/pulls/{{pull_number}}"),
    ("patch", f"{R}/pulls/{{pull_number}}"),
    ("get", f"{R}/pulls/{{pull_number}}/files"),
    ("get", f"{R}/pulls/{{pull_number}}/commits"),
    ("get", f"{R}/pulls/{{pull_number}}/merge"),
    ("put", f"{R}/pulls/{{pull_number}}/merge"),
    ("get", f"{R}/pulls/{{pull_number}}/reviews"),
    ("post", f"{R}/pulls/{{pull_number}}/reviews"),
    ("get", f"{R}/issues"),
    ("post", f"{R}/issues"),
    ("get", f"{R}/issues/{{issue_number}}"),
    ("patch", f"{R}/issues/{{issue_number}}"),
    ("get", f"{R}/issues/{{issue_number}}/labels"),
    ("post", f"{R}/issues/{{issue_number}}/labels"),
    ("get", f"{R}/issues/{{issue_number}}/comments"),
    ("post", f"{R}/issues/{{issue_number}}/comments"),
    ("get", f"{R}/issues/comments/{{comment_id}}"),
    ("patch", f"{R}/issues/comments/{{comment_id}}"),
    ("delete", f"{R}/issues/comments/{{comment_id}}"),
    ("get", f"{R}/issues/comments/{{comment_id}}/reactions"),
    ("post", f"{R}/issues/comments/{{comment_id}}/reactions"),
    ("get", f"{R}/labels"),
    ("post", f"{R}/labels"),
    ("get", f"{R}/labels/{{name}}"),
    ("get", f"{R}/collaborators/{{username}}/permission"),
    ("post", f"{R}/check-runs"),
    ("get", f"{R}/check-runs/{{check_run_id}}"),
    ("patch", f"{R}/check-runs/{{check_run_id}}"),
    ("get", f"{R}/commits/{{ref}}/check-runs"),
    ("post", f"{R}/statuses/{{sha}}"),
    ("get", f"{R}/commits/{{ref}}/statuses"),
    ("get", f"{R}/commits/{{ref}}/status"),
    ("get", f"{R}/deployments"),
    ("post", f"{R}/deployments"),
    ("get", f"{R}/deployments/{{deployment_id}}"),
    ("get", f"{R}/deployments/{{deployment_id}}/statuses"),
    ("post", f"{R}/deployments/{{deployment_id}}/statuses"),
    ("get", f"{R}/environments/{{environment_name}}"),
    ("put", f"{R}/environments/{{environment_name}}"),
    ("get", f"{R}/actions/workflows"),
    ("get", f"{R}/actions/workflows/{{workflow_id}}"),
    ("post", f"{R}/actions/workflows/{{workflow_id}}/dispatches"),
    ("get", f"{R}/actions/runs/{{run_id}}/pending_deployments"),
    ("post", f"{R}/actions/runs/{{run_id}}/pending_deployments"),
    ("get", f"{R}/actions/runs/{{run_id}}/approvals"),
]

# Webhook payloads the stand-in sends (definition names in @octokit/webhooks-schemas).
WEBHOOK_DEFINITIONS = [
    "pull_request$opened",
    "pull_request$synchronize",
    "pull_request$closed",
    "pull_request$reopened",
    "issue_comment$created",
    "issue_comment$edited",
    "issues$opened",
    "push$event",
    "workflow_run$requested",
    "workflow_run$completed",
]


def _refs(node: Any) -> set[str]:
    """Every local `$ref` target below `node`."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _pointer(doc: dict[str, Any], ref: str) -> tuple[list[str], Any]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    node: Any = doc
    for part in parts:
        node = node[part]
    return parts, node


def _closure(doc: dict[str, Any], roots: Any) -> dict[str, Any]:
    """The parts of `doc` that `roots` reference, transitively, as a nested dict of the same layout."""
    out: dict[str, Any] = {}
    pending = _refs(roots)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts, node = _pointer(doc, ref)
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = node
        pending |= _refs(node) - seen
    return out


def extract_rest(description: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path in SERVED:
        item = description["paths"].get(path)
        if item is None or method not in item:
            raise SystemExit(f"{method.upper()} {path} is not in the REST description: update SERVED")
        paths.setdefault(path, {})[method] = item[method]
        if "parameters" in item:  # path-level parameters apply to every method
            paths[path]["parameters"] = item["parameters"]
    subset: dict[str, Any] = {
        "openapi": description["openapi"],
        "info": {**description["info"], "x-subset-of": f"{OPENAPI_PACKAGE}@{OPENAPI_VERSION}"},
        "servers": description.get("servers", []),
        "paths": paths,
    }
    subset.update(_closure(description, paths))
    return subset


def extract_webhooks(schema: dict[str, Any]) -> dict[str, Any]:
    definitions = schema["definitions"]
    roots = {name: definitions[name] for name in WEBHOOK_DEFINITIONS}
    closure = _closure(schema, roots).get("definitions", {})
    return {
        "$schema": schema.get("$schema", "http://json-schema.org/draft-07/schema#"),
        "x-subset-of": f"{WEBHOOKS_PACKAGE}@{WEBHOOKS_VERSION}",
        "x-events": WEBHOOK_DEFINITIONS,
        "definitions": {**closure, **roots},
    }


# fixture file -> (event, action, which example of that action); installation-bearing ones preferred,
# since an App receives those.
FIXTURES = {
    "pull_request.opened.json": ("pull_request", "opened", 1),
    "pull_request.synchronize.json": ("pull_request", "synchronize", 0),
    "pull_request.closed.json": ("pull_request", "closed", 0),
    "issue_comment.created.json": ("issue_comment", "created", 3),
    "push.json": ("push", None, 3),
    "issues.opened.json": ("issues", "opened", 0),
}


def _example(index: list[dict[str, Any]], event: str, action: str | None, nth: int) -> dict[str, Any]:
    entry = next(e for e in index if e["name"] == event)
    matching = [x for x in entry["examples"] if x.get("action") == action]
    return json.loads(json.dumps(matching[nth]))


def _merged(closed: dict[str, Any]) -> dict[str, Any]:
    """A merged pull_request.closed from a real unmerged one: what GitHub sets when it merges."""
    pull = closed["pull_request"]
    pull["merged"] = True
    pull["merged_at"] = pull["closed_at"]
    pull["merged_by"] = json.loads(json.dumps(closed["sender"]))
    pull["merge_commit_sha"] = pull["merge_commit_sha"] or "c4295bd74fb0f4fda03689c3df3f2803b658fd85"
    pull["mergeable"] = None
    pull["mergeable_state"] = "unknown"
    return closed


def _on_pull(created: dict[str, Any], pull_event: dict[str, Any]) -> dict[str, Any]:
    """An issue_comment.created on a pull request: the issue carries `pull_request` links."""
    pull = pull_event["pull_request"]
    issue = created["issue"]
    issue["number"] = pull["number"]
    issue["html_url"] = pull["html_url"]
    issue["pull_request"] = {
        "url": pull["url"],
        "html_url": pull["html_url"],
        "diff_url": pull["diff_url"],
        "patch_url": pull["patch_url"],
    }
    created["comment"]["html_url"] = f"{pull['html_url']}#issuecomment-{created['comment']['id']}"
    created["comment"]["issue_url"] = issue["url"].rsplit("/", 1)[0] + f"/{pull['number']}"
    issue["url"] = created["comment"]["issue_url"]
    return created


def extract_fixtures(examples_dir: Path, out: Path) -> None:
    index = json.loads((examples_dir / "api.github.com/index.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    saved = {name: _example(index, *spec) for name, spec in FIXTURES.items()}
    saved["pull_request.closed.merged.json"] = _merged(_example(index, *FIXTURES["pull_request.closed.json"]))
    saved["issue_comment.created.pull_request.json"] = _on_pull(
        _example(index, *FIXTURES["issue_comment.created.json"]), _example(index, "pull_request", "opened", 1)
    )
    for name, payload in saved.items():
        (out / name).write_text(json.dumps(payload, indent=2) + "\n")


def _check_version(package_dir: Path, expected: str) -> None:
    version = json.loads((package_dir / "package.json").read_text())["version"]
    if version != expected:
        raise SystemExit(f"{package_dir.name} is {version}; this script is pinned to {expected}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("node_modules", type=Path, help="folder holding the installed @octokit packages")
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--out", type=Path, default=root / "bot/standin/data")
    parser.add_argument("--fixtures", type=Path, default=root / "tests/fixtures/webhooks")
    args = parser.parse_args(argv)

    openapi_dir = args.node_modules / OPENAPI_PACKAGE
    webhooks_dir = args.node_modules / WEBHOOKS_PACKAGE
    _check_version(openapi_dir, OPENAPI_VERSION)
    _check_version(webhooks_dir, WEBHOOKS_VERSION)

    description = json.loads((openapi_dir / "generated/api.github.com.json").read_text())
    rest = extract_rest(description)
    hooks = extract_webhooks(json.loads((webhooks_dir / "schema.json").read_text()))

    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in (("github-rest-subset.json", rest), ("webhook-schemas.json", hooks)):
        target = args.out / name
        target.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"{target.name}: {target.stat().st_size / 1e6:.2f} MB", file=sys.stderr)

    examples_dir = args.node_modules / EXAMPLES_PACKAGE
    _check_version(examples_dir, EXAMPLES_VERSION)
    extract_fixtures(examples_dir, args.fixtures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
