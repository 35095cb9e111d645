"""A small PromQL and rule-file checker: enough of promtool's `check rules` to catch what a hand edit of
deploy/prometheus/alerts.yml breaks (structure, durations, label names, unbalanced brackets, unknown
functions), and the metric names a query reads, to hold against what the bot really exports."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_TOKEN = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
      |(?P<range>\[[^\]]*\])
      |(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)
      |(?P<variable>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
      |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
      |(?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},])
      |(?P<space>\s+)""",
    re.X,
)
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
}  # fmt: skip
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "histogram_quantile",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln", "log2",
    "log10", "minute", "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort",
    "sort_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time", "min_over_time",
    "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time", "stddev_over_time",
    "stdvar_over_time", "last_over_time", "present_over_time",
}  # fmt: skip


def check_duration(value: str) -> bool:
    return bool(value) and _DURATION.match(value) is not None


def tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    while at < len(expr):
        found = _TOKEN.match(expr, at)
        if found is None:
            raise ValueError(f"unexpected character {expr[at]!r} at {at} in {expr!r}")
        kind = found.lastgroup or ""
        if kind != "space":
            out.append((kind, found.group()))
        at = found.end()
    return out


def check_expr(expr: str) -> list[str]:
    """What is wrong with `expr` (empty: nothing found)."""
    problems: list[str] = []
    try:
        toks = tokens(expr)
    except ValueError as error:
        return [str(error)]
    depth = {"(": 0, "{": 0}
    closing = {")": "(", "}": "{"}
    for i, (kind, text) in enumerate(toks):
        if kind == "op" and text in depth:
            depth[text] += 1
        elif kind == "op" and text in closing:
            depth[closing[text]] -= 1
            if depth[closing[text]] < 0:
                problems.append(f"unbalanced {text!r} in {expr!r}")
        elif kind == "range":
            inner = text[1:-1].split(":")[0]
            if not check_duration(inner):
                problems.append(f"bad range {text} in {expr!r}")
        elif kind == "ident" and i + 1 < len(toks) and toks[i + 1] == ("op", "("):
            if text not in FUNCTIONS | AGGREGATIONS | KEYWORDS:
                problems.append(f"unknown function {text!r} in {expr!r}")
        elif kind == "ident" and text not in AGGREGATIONS and _grouped(toks, i):
            problems.append(f"unknown aggregation {text!r} in {expr!r}")
    problems += [f"unclosed {b!r} in {expr!r}" for b, n in depth.items() if n > 0]
    return problems


def _grouped(toks: list[tuple[str, str]], i: int) -> bool:
    """The identifier at `i` is followed by `by` or `without`: it must be an aggregation."""
    return i + 1 < len(toks) and toks[i + 1] in {("ident", "by"), ("ident", "without")}


def metric_names(expr: str) -> set[str]:
    """The series names `expr` reads: identifiers outside label matchers and grouping lists that are not
    functions, aggregations or keywords."""
    names: set[str] = set()
    toks = tokens(expr)
    braces = 0
    grouping = False  # inside by (...), without (...), on (...), ignoring (...), group_left(...)
    for i, (kind, text) in enumerate(toks):
        if kind == "op" and text == "{":
            braces += 1
        elif kind == "op" and text == "}":
            braces -= 1
        elif kind == "op" and text == ")" and grouping:
            grouping = False
        elif kind == "ident" and text in KEYWORDS:
            grouping = text in {"by", "without", "on", "ignoring", "group_left", "group_right"} and (
                i + 1 < len(toks) and toks[i + 1] == ("op", "(")
            )
        elif kind == "ident" and not braces and not grouping:
            after = toks[i + 1] if i + 1 < len(toks) else ("", "")
            followed_by_call = after == ("op", "(") or (
                text in AGGREGATIONS and after in {("ident", "by"), ("ident", "without")}
            )
            if not followed_by_call and text not in KEYWORDS and text not in {"inf", "nan"}:
                names.add(text)
    return names


def check_rule_file(data: Any) -> list[str]:
    """promtool's structural checks of a rule file."""
    if not isinstance(data, Mapping) or set(data) != {"groups"}:
        return ["a rule file holds exactly one key, `groups`"]
    problems: list[str] = []
    seen: set[str] = set()
    for group in data["groups"]:
        name = group.get("name")
        if not name or name in seen:
            problems.append(f"group name {name!r} is empty or repeated")
        seen.add(name)
        problems += [
            f"group {name}: unknown key {k!r}" for k in set(group) - {"name", "interval", "rules", "limit"}
        ]
        if "interval" in group and not check_duration(str(group["interval"])):
            problems.append(f"group {name}: bad interval {group['interval']!r}")
        for rule in group.get("rules") or []:
            problems += _check_rule(str(name), rule)
    return problems


def _check_rule(group: str, rule: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    what = rule.get("alert") or rule.get("record")
    if ("alert" in rule) == ("record" in rule):
        problems.append(f"{group}: a rule has exactly one of `alert` and `record`")
    allowed = (
        {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        if "alert" in rule
        else {"record", "expr", "labels"}
    )
    problems += [f"{group}/{what}: unknown key {k!r}" for k in set(rule) - allowed]
    if "record" in rule and not _METRIC.match(str(rule["record"])):
        problems.append(f"{group}/{what}: bad record name")
    if not str(rule.get("expr", "")).strip():
        problems.append(f"{group}/{what}: no expr")
    else:
        problems += check_expr(str(rule["expr"]))
    for key in ("for", "keep_firing_for"):
        if key in rule and not check_duration(str(rule[key])):
            problems.append(f"{group}/{what}: bad `{key}` {rule[key]!r}")
    for key in ("labels", "annotations"):
        for label, value in (rule.get(key) or {}).items():
            if not _LABEL.match(str(label)) or not isinstance(value, str):
                problems.append(f"{group}/{what}: bad {key[:-1]} {label!r}")
            elif value.count("{{") != value.count("}}"):
                problems.append(f"{group}/{what}: unbalanced template in {label}")
    return problems


def grafana_queries(dashboard: Mapping[str, Any]) -> Iterator[str]:
    """Every PromQL expression of a Grafana dashboard: panel targets (rows included) and query variables."""

    def panels(items: Any) -> Iterator[Any]:
        for p in items or []:
            yield p
            yield from panels(p.get("panels"))

    for p in panels(dashboard.get("panels")):
        for target in p.get("targets") or []:
            yield str(target["expr"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            text = str(query["query"] if isinstance(query, Mapping) else query)
            # Grafana's label_values(<selector>, <label>): the selector is the PromQL
            found = re.fullmatch(r"label_values\((.*),\s*[a-zA-Z_]\w*\)", text)
            yield found.group(1) if found else text
