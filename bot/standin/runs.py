"""Workflow runs in the stand-in: the typed `inputs` a dispatch gives a run, and its `run-name`.

GitHub evaluates a workflow's `run-name` expression into the run's `display_title`. The stand-in knows the
small part of the expression language that run-names use: property paths (`inputs.pr`,
`github.event.pull_request.number`), string/number/boolean literals, `&&` and `||` with GitHub's
short-circuit values. Anything else is a ValueError, so a template that needs more fails loudly in tests
rather than producing a title GitHub would not.
https://docs.github.com/actions/learn-github-actions/expressions
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(r"\s*(?:(\|\||&&)|'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_.-]*)|(-?\d+(?:\.\d+)?))")


def workflow_document(text: str) -> dict[str, Any]:
    """The parsed workflow file (YAML 1.2, so the key `on` stays a string)."""
    doc = YAML(typ="safe").load(text)
    return doc if isinstance(doc, dict) else {}


def declared_inputs(doc: Mapping[str, Any]) -> dict[str, Any]:
    on = doc.get("on")
    if not isinstance(on, dict):
        return {}
    dispatch = on.get("workflow_dispatch") or {}
    inputs = dispatch.get("inputs") if isinstance(dispatch, dict) else None
    return dict(inputs) if isinstance(inputs, dict) else {}


def typed_inputs(declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The `inputs` context of a dispatched run: given values typed as declared, defaults for the rest.

    Over REST every input is a string; in the run, a `boolean` input is a boolean and a `number` a number.
    """
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        raw = given.get(name, spec.get("default", ""))
        kind = spec.get("type", "string")
        if kind == "boolean":
            out[name] = raw if isinstance(raw, bool) else str(raw).strip().lower() == "true"
        elif kind == "number" and str(raw).strip() != "":
            text = str(raw).strip()
            out[name] = float(text) if "." in text else int(text)
        else:
            out[name] = "" if raw is None else raw
    return out


def _stringify(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, False)


def _lookup(path: str, context: Mapping[str, Any]) -> Any:
    if path in ("true", "false"):
        return path == "true"
    if path == "null":
        return None
    node: Any = context
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of one `${{ }}` expression body: operands joined by `&&` (binding tighter) and `||`."""
    rest = expression.strip()
    terms: list[list[Any]] = [[]]  # `||` of `&&`-groups
    expect_operand = True
    while rest:
        match = _TOKEN.match(rest)
        if match is None or match.end() == 0:
            raise ValueError(f"run-name expression not understood by the stand-in: {expression!r}")
        operator, literal, path, number = match.groups()
        if operator and not expect_operand:
            if operator == "||":
                terms.append([])
            expect_operand = True
        elif not operator and expect_operand:
            if literal is not None:
                terms[-1].append(literal.replace("''", "'"))
            elif path is not None:
                terms[-1].append(_lookup(path, context))
            else:
                terms[-1].append(float(number) if "." in number else int(number))
            expect_operand = False
        else:
            raise ValueError(f"run-name expression not understood by the stand-in: {expression!r}")
        rest = rest[match.end() :].strip()
    if expect_operand:
        raise ValueError(f"run-name expression ends early: {expression!r}")
    value: Any = None
    for group in terms:
        value = group[0]
        for operand in group[1:]:
            if not _truthy(value):
                break
            value = operand
        if _truthy(value):
            return value
    return value


def render(template: str, context: Mapping[str, Any]) -> str:
    """A `run-name` with each `${{ }}` replaced by its value, as GitHub shows it."""
    return _EXPRESSION.sub(lambda m: _stringify(evaluate(m.group(1), context)), template).strip()


def display_title(doc: Mapping[str, Any], *, workflow_name: str, context: Mapping[str, Any]) -> str:
    """The run's title: the evaluated `run-name`, or the workflow's name when it has none."""
    run_name = doc.get("run-name")
    if not isinstance(run_name, str) or not run_name.strip():
        return workflow_name
    return render(run_name, context) or workflow_name
