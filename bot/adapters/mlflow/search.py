"""MLflow's search filter grammar and error codes, as the runs and the registry use them."""

from __future__ import annotations

from collections.abc import Mapping

NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}
EXISTS_CODES = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}


def quote(value: str) -> str:
    """A string literal for an MLflow search filter. The filter grammar has no escapes, so pick a quote
    character the value does not contain."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"cannot search MLflow for a value holding both quote characters: {value!r}")


def tag_clause(key: str, value: str) -> str:
    """`tags.`key` = 'value'`, or "" when the pair cannot be written in the filter grammar (then the
    caller filters those runs in Python)."""
    if "`" in key or ("'" in value and '"' in value):
        return ""
    return f"tags.`{key}` = {quote(value)}"


def has_tags(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in wanted.items())


def is_not_found(exc: BaseException) -> bool:
    code = getattr(exc, "error_code", "")
    return code in NOT_FOUND_CODES
