"""GitHub's REST description and webhook schemas, as the stand-in checks requests and payloads against them.

The data files are subsets of the official npm packages, cut by scripts/extract_github_specs.py.
OpenAPI 3.0 schemas are JSON Schema draft-4-ish plus `nullable`; we rewrite `nullable` into a
`null` type once at load time and validate with jsonschema's draft-7 validator, which (like OpenAPI 3.0)
ignores keywords next to `$ref`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

REST_URI = "urn:github-rest"
HOOKS_URI = "urn:github-webhooks"

# Path parameters that may hold slashes (branch names, file paths, refs such as heads/feature/x).
_GREEDY_PARAMS = {"ref", "path", "branch"}

# Routes GitHub answers although its description omits them; validated as the documented operation.
# PyGithub reads a ref through its own `url` (/git/refs/heads/x) and lists all refs at /git/refs.
_LEGACY_ALIASES = [
    ("get", "/repos/{owner}/{repo}/git/refs/{ref}", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("get", "/repos/{owner}/{repo}/git/refs", "/repos/{owner}/{repo}/git/matching-refs/{ref}"),
    # Commit.get_statuses() reads the older /statuses/{ref} listing.
    ("get", "/repos/{owner}/{repo}/statuses/{ref}", "/repos/{owner}/{repo}/commits/{ref}/statuses"),
]


# Request shapes GitHub accepts that the description states only in prose. Each maps the body the
# client sent to the described shape before validation.
_PROSE_ONLY_BODIES: dict[str, Any] = {
    # "You can also pass an `array` of labels directly" (PyGithub's Issue.add_to_labels does).
    "issues/add-labels": lambda body: {"labels": body} if isinstance(body, list) else body,
}


def _load(name: str) -> dict[str, Any]:
    text = resources.files("bot.standin").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _nullable_to_type(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` expressed as JSON Schema, recursively."""
    if isinstance(node, list):
        return [_nullable_to_type(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_type(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        elif "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class Problem:
    """One way a request does not follow the description, in GitHub's `errors` item shape."""

    field: str
    code: str  # "invalid" | "missing_field" | "missing"
    message: str

    def as_error(self, resource: str) -> dict[str, str]:
        return {"resource": resource, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class Operation:
    method: str
    template: str
    operation_id: str
    regex: re.Pattern[str]
    parameters: list[dict[str, Any]]
    body_pointer: str | None
    body_required: bool
    responses: dict[str, Any]
    literal_weight: int = 0
    described_template: str = ""  # where the operation lives in the description (differs for aliases)


@dataclass
class Match:
    operation: Operation
    path_params: dict[str, str]
    served_path: str  # the template the client actually called (differs for legacy aliases)


@dataclass
class ValidatedRequest:
    path_params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    problems: list[Problem] = field(default_factory=list)


def _template_regex(template: str, multi_segment: set[str] | None = None) -> re.Pattern[str]:
    greedy = _GREEDY_PARAMS | (multi_segment or set())
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            name = piece[1:-1]
            body = ".*" if name == "path" else ".+" if name in greedy else "[^/]+"
            pattern += f"(?P<{name}>{body})"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}/?$")


class RestSpec:
    """The operations of the REST description subset, matched by method and path."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = _nullable_to_type(doc)
        self.registry: Registry[Any] = Registry().with_resource(
            REST_URI, Resource.from_contents(self.doc, default_specification=DRAFT7)
        )
        self.operations: list[Operation] = []
        self._by_template: dict[tuple[str, str], Operation] = {}
        for template, item in self.doc["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters":
                    continue
                operation = self._operation(method, template, op, shared)
                self.operations.append(operation)
                self._by_template[(method, template)] = operation
        for method, alias, target in _LEGACY_ALIASES:
            original = self._by_template.get((method, target))
            if original is not None:
                self.operations.append(
                    Operation(
                        method=method,
                        template=alias,
                        operation_id=original.operation_id,
                        regex=_template_regex(alias),
                        parameters=[p for p in original.parameters if p["in"] != "path" or p["name"] != "ref"]
                        if "{ref}" not in alias
                        else original.parameters,
                        body_pointer=None,
                        body_required=False,
                        responses=original.responses,
                        literal_weight=len(re.sub(r"\{[^}]+\}", "", alias)),
                        described_template=target,
                    )
                )
        # A literal segment beats a parameter: /commits/{ref}/status before /commits/{ref}.
        self.operations.sort(key=lambda o: -o.literal_weight)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.pointer(node["$ref"])
        return node

    def pointer(self, ref: str) -> Any:
        node: Any = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _operation(
        self, method: str, template: str, op: dict[str, Any], shared: list[dict[str, Any]]
    ) -> Operation:
        params = [self._resolve(p) for p in [*shared, *op.get("parameters", [])]]
        body_pointer = None
        body_required = False
        if "requestBody" in op:
            body = self._resolve(op["requestBody"])
            if "application/json" in body.get("content", {}):
                escaped = template.replace("~", "~0").replace("/", "~1")
                body_pointer = f"#/paths/{escaped}/{method}/requestBody/content/application~1json/schema"
                if "$ref" in op["requestBody"]:
                    body_pointer = op["requestBody"]["$ref"] + "/content/application~1json/schema"
                body_required = bool(body.get("required", False))
        return Operation(
            method=method,
            template=template,
            operation_id=op["operationId"],
            regex=_template_regex(template, {p["name"] for p in params if p.get("x-multi-segment")}),
            parameters=params,
            body_pointer=body_pointer,
            body_required=body_required,
            responses=op.get("responses", {}),
            literal_weight=len(re.sub(r"\{[^}]+\}", "", template)),
        )

    def match(self, method: str, path: str) -> Match | None:
        """The operation serving `method path` (path relative to the API root), or None."""
        method = method.lower()
        for operation in self.operations:
            if operation.method != method:
                continue
            found = operation.regex.match(path)
            if found:
                return Match(operation, found.groupdict(), operation.template)
        return None

    def validator(self, pointer: str) -> Draft7Validator:
        return _validator(self, pointer)

    def validate(
        self, match: Match, query: Mapping[str, list[str]], body: bytes, *, content_type: str = ""
    ) -> ValidatedRequest:
        """Path, query and body of a request checked against its operation; values coerced to schema types."""
        out = ValidatedRequest()
        op = match.operation
        for param in op.parameters:
            name, where = param["name"], param["in"]
            schema = param.get("schema", {})
            if where == "path":
                raw = match.path_params.get(name)
                if raw is None:
                    continue
                value, ok = _coerce(raw, schema)
                if not ok:
                    out.problems.append(Problem(name, "invalid", f"path parameter {name}={raw!r} is invalid"))
                out.path_params[name] = value
            elif where == "query" and name in query:
                raws = query[name]
                value, ok = _coerce(raws[-1], schema) if schema.get("type") != "array" else (raws, True)
                if ok:
                    errors = [e.message for e in Draft7Validator(schema).iter_errors(value)]
                    ok = not errors
                if not ok:
                    out.problems.append(
                        Problem(name, "invalid", f"query parameter {name}={raws[-1]!r} is invalid")
                    )
                out.query[name] = value
        if op.body_pointer is None:
            return out
        if not body.strip():
            if op.body_required:
                out.problems.append(Problem("body", "missing", "a JSON request body is required"))
            return out
        try:
            out.body = json.loads(body)
        except ValueError:
            out.problems.append(Problem("body", "invalid", "Problems parsing JSON"))
            return out
        described = _PROSE_ONLY_BODIES.get(op.operation_id, lambda body: body)(out.body)
        for error in sorted(self.validator(op.body_pointer).iter_errors(described), key=lambda e: e.path):
            out.problems.append(_problem(error))
        return out

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Ways a response body differs from the description's schema for that status (tests use this)."""
        match = self.match(method, path)
        if match is None:
            return [f"no operation for {method} {path}"]
        response = match.operation.responses.get(str(status))
        if response is None:
            return [f"status {status} is not documented for {match.operation.operation_id}"]
        response = self._resolve(response)
        if "application/json" not in response.get("content", {}):
            return [] if body in (None, b"", "") else ["a body was sent where none is documented"]
        schema = response["content"]["application/json"].get("schema")
        if schema is None:
            return []
        if "$ref" in schema:
            pointer = schema["$ref"]
        else:
            template = match.operation.described_template or match.operation.template
            escaped = template.replace("~", "~0").replace("/", "~1")
            code = str(status)
            pointer = f"#/paths/{escaped}/{method.lower()}/responses/{code}/content/application~1json/schema"
            if "$ref" in match.operation.responses[code]:
                pointer = match.operation.responses[code]["$ref"] + "/content/application~1json/schema"
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in self.validator(pointer).iter_errors(body)
        ]


@cache
def _validator(spec: RestSpec, pointer: str) -> Draft7Validator:
    return Draft7Validator({"$ref": f"{REST_URI}{pointer}"}, registry=spec.registry)


def _coerce(raw: str, schema: dict[str, Any]) -> tuple[Any, bool]:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        try:
            return int(raw), True
        except ValueError:
            return raw, False
    if "boolean" in kinds:
        if raw in ("true", "false"):
            return raw == "true", True
        return raw, False
    if "enum" in schema and raw not in schema["enum"]:
        return raw, False
    return raw, True


def _problem(error: Any) -> Problem:
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        name = f"{where}/{missing}" if where else missing
        return Problem(name, "missing_field", f'"{missing}" wasn\'t supplied.')
    return Problem(where or "body", "invalid", f"For '{where or 'body'}', {error.message}")


class WebhookSchemas:
    """GitHub's webhook payload schemas for the events the stand-in sends."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry: Registry[Any] = Registry().with_resource(
            HOOKS_URI, Resource.from_contents(doc, default_specification=DRAFT7)
        )
        self._validators: dict[str, Draft7Validator] = {}

    def definition_name(self, event: str, action: str | None) -> str:
        return f"{event}${action or 'event'}"

    def errors(self, event: str, action: str | None, payload: Any) -> list[str]:
        """Ways `payload` differs from the schema of `event.action`; empty when it validates."""
        name = self.definition_name(event, action)
        if name not in self.doc["definitions"]:
            return [f"no schema for {name}"]
        validator = self._validators.get(name)
        if validator is None:
            escaped = name.replace("~", "~0").replace("/", "~1")
            validator = Draft7Validator(
                {"$ref": f"{HOOKS_URI}#/definitions/{escaped}"}, registry=self.registry
            )
            self._validators[name] = validator
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in validator.iter_errors(payload)
        ]

    def allowed_properties(self, pointer: str) -> Any:
        node: Any = self.doc
        for part in pointer.lstrip("#/").split("/"):
            node = node[part]
        return node


@cache
def rest_spec() -> RestSpec:
    """The REST description subset (parsed once per process)."""
    return RestSpec(_load("github-rest-subset.json"))


@cache
def webhook_schemas() -> WebhookSchemas:
    """The webhook payload schemas (parsed once per process)."""
    return WebhookSchemas(_load("webhook-schemas.json"))
