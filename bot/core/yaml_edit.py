"""Set keys in a YAML file and leave every other byte as it was: comments, key order, quoting, blank lines.

A retrain PR changes one or two values in a file a human keeps (`params.yaml`); its diff must show only
those values. Dumping a round-trip-loaded document back is close but not byte-exact (indentation and
line-width choices get normalised), so this edits the text itself: ruamel.yaml's composer gives each
node's exact position, the new value is spliced in there, and the result is parsed again to check it says
what was asked.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_MISSING = object()


def set_keys(text: str, updates: Mapping[str, Any]) -> str:
    """`text` with each dotted key of `updates` set ("data.snapshot": "2024-06-01"); missing parents are
    created. A key path through something that is not a mapping raises ValueError naming the key."""
    for dotted, value in updates.items():
        path = str(dotted).split(".")
        if not dotted or any(not p for p in path):
            raise ValueError(f"{dotted!r} is not a key path: use dotted names like data.snapshot")
        text = _set_one(text, path, value)
    _verify(text, updates)
    return text


def get_key(text: str, dotted: str) -> Any:
    """The value at a dotted key (for checks and tests); KeyError when absent."""
    node: Any = _load(text)
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _compose(text: str) -> Node | None:
    try:
        return YAML(typ="rt").compose(io.StringIO(text))  # type: ignore[no-any-return]
    except YAMLError as exc:
        raise ValueError(f"not valid YAML: {_yaml_problem(exc)}") from exc


def _load(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(io.StringIO(text))
    except YAMLError as exc:
        raise ValueError(f"not valid YAML: {_yaml_problem(exc)}") from exc


def _yaml_problem(exc: YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}{problem}"


def _set_one(text: str, path: list[str], value: Any) -> str:
    root = _compose(text)
    if root is None:
        # An empty file (or only comments): the new keys go at the end, as a block.
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + _block(path, value, indent=0, step=2)
    if not isinstance(root, MappingNode):
        raise ValueError(f"cannot set {'.'.join(path)}: the file's top level is not a mapping")
    step = _indent_step(root)
    node: MappingNode = root
    for depth, part in enumerate(path):
        dotted = ".".join(path[: depth + 1])
        child = _child(node, part)
        last = depth == len(path) - 1
        if child is None:
            return _insert(text, node, path[depth:], value, step)
        if last:
            return _replace(text, child, value)
        if not isinstance(child, MappingNode):
            kind = "a list" if isinstance(child, SequenceNode) else f"the value {_snippet(text, child)}"
            raise ValueError(f"cannot set {'.'.join(path)}: {dotted} is {kind}, not a mapping")
        node = child
    raise AssertionError("unreachable: the loop returns")


def _child(node: MappingNode, key: str) -> Node | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and str(key_node.value) == key:
            return value_node  # type: ignore[no-any-return]
    return None


def _replace(text: str, node: Node, value: Any) -> str:
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        end = len(text[:end].rstrip(" \t\n"))  # a block scalar's span includes its trailing line breaks
    elif isinstance(node, MappingNode | SequenceNode) and node.flow_style is not True:
        # A block collection replaced by a flow value. What follows it (comments, blank lines) stays.
        end = _end_of_content(text, node)
        key_line_end = len(text[:start].rstrip(" \t\n"))
        line_start = text.rfind("\n", 0, key_line_end) + 1
        if "#" not in text[line_start:key_line_end]:
            return text[:key_line_end] + " " + _flow(value, node) + "\n" + text[end:]
        return text[:start] + _flow(value, node) + "\n" + text[end:]  # keep the comment on the key's line
    return text[:start] + _flow(value, node) + text[end:]


def _insert(text: str, parent: MappingNode, path: list[str], value: Any, step: int) -> str:
    if parent.flow_style is True:
        closing = parent.end_mark.index - 1  # the "}"
        inner = text[parent.start_mark.index + 1 : closing].strip()
        entry = f"{_key(path[0])}: {_flow(_nest(path[1:], value))}"
        return text[:closing] + (", " if inner else "") + entry + text[closing:]
    indent = parent.value[0][0].start_mark.column if parent.value else 0
    at = _end_of_content(text, parent)
    prefix = "" if at == 0 or text[at - 1] == "\n" else "\n"
    return text[:at] + prefix + _block(path, value, indent=indent, step=step) + text[at:]


def _end_of_content(text: str, node: Node) -> int:
    """Index just after the line holding the last value of a block collection (its own trailing comment
    included, the comments and blank lines after it not)."""
    last: Node = node
    while isinstance(last, MappingNode | SequenceNode) and last.value and last.flow_style is not True:
        last = last.value[-1][1] if isinstance(last, MappingNode) else last.value[-1]
    end = last.end_mark.index
    if isinstance(last, ScalarNode) and last.style in ("|", ">"):
        end = len(text[:end].rstrip(" \t\n"))
    newline = text.find("\n", end)
    return len(text) if newline == -1 else newline + 1


def _indent_step(root: MappingNode) -> int:
    """How far this file indents a nested mapping (2 if it never does)."""
    for key_node, value_node in root.value:
        if isinstance(value_node, MappingNode) and value_node.value and value_node.flow_style is not True:
            step = value_node.value[0][0].start_mark.column - key_node.start_mark.column
            if step > 0:
                return int(step)
    return 2


def _block(path: list[str], value: Any, *, indent: int, step: int) -> str:
    lines = []
    for depth, part in enumerate(path[:-1]):
        lines.append(" " * (indent + depth * step) + f"{_key(part)}:")
    lines.append(" " * (indent + (len(path) - 1) * step) + f"{_key(path[-1])}: {_flow(value)}")
    return "\n".join(lines) + "\n"


def _nest(path: list[str], value: Any) -> Any:
    for part in reversed(path):
        value = {part: value}
    return value


def _key(key: str) -> str:
    return key if _plain_ok(key) else json.dumps(key, ensure_ascii=False)


def _flow(value: Any, old: Node | None = None) -> str:
    """`value` as YAML text that fits on the line where the old value was; a string keeps the old quoting."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else f"{text}.0"
    if isinstance(value, str):
        style = old.style if isinstance(old, ScalarNode) else None
        if style == "'" and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        if style != '"' and _plain_ok(value):
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    raise ValueError(
        f"cannot write a {type(value).__name__} into YAML; use a string, number, bool, list or mapping"
    )


def _plain_ok(value: str) -> bool:
    """Whether `value` written unquoted reads back as the same string."""
    if not value or value != value.strip() or any(c in value for c in "\n\r\t"):
        return False
    try:
        loaded = YAML(typ="safe", pure=True).load(io.StringIO(f"k: {value}\n"))
    except YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k", _MISSING) == value and isinstance(loaded["k"], str)


def _snippet(text: str, node: Node) -> str:
    raw = text[node.start_mark.index : node.end_mark.index].strip().split("\n")[0]
    return repr(raw[:40])


def _verify(text: str, updates: Mapping[str, Any]) -> None:
    for dotted, value in updates.items():
        got = get_key(text, str(dotted))
        expected = list(value) if isinstance(value, tuple) else value
        same = got == expected or (isinstance(value, float) and math.isnan(value) and math.isnan(got))
        if not same:
            raise ValueError(
                f"setting {dotted} did not give {value!r} (got {got!r}); the file was left unchanged"
            )
