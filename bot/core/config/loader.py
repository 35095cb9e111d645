"""Reading `.github/mlops-bot.yml`: ruamel.yaml (so an error can name the line of the offending key), the
size limits first, then the pydantic models; parsed configs cached by blob sha."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from typing import Any

from pydantic import ValidationError

from bot.core.config.errors import ConfigError
from bot.core.config.limits import check_size
from bot.core.config.models import RepoConfig

CONFIG_PATH = ".github/mlops-bot.yml"


def blob_sha(text: str) -> str:
    """The git blob id of `text` (what GitHub's contents API reports as the file's `sha`)."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


# Parsed configs by (blob sha, path): the web process reads the default branch's file on every event, and
# the same file parses to the same (frozen) value; a refused file is refused again without re-reading it.
_CACHE_SIZE = 256
_parsed: OrderedDict[tuple[str, str], RepoConfig | ConfigError] = OrderedDict()
_parsed_lock = threading.Lock()


def load_config(text: str, path: str = CONFIG_PATH) -> RepoConfig:
    """Parse and validate a config file (cached by blob sha). An empty file gives the defaults."""
    key = (blob_sha(text), path)
    with _parsed_lock:
        found = _parsed.get(key)
        if found is not None:
            _parsed.move_to_end(key)
    if found is None:
        try:
            found = _load(text, path)
        except ConfigError as exc:
            found = exc
        with _parsed_lock:
            _parsed[key] = found
            while len(_parsed) > _CACHE_SIZE:
                _parsed.popitem(last=False)
    if isinstance(found, ConfigError):
        raise ConfigError(found.path, list(found.problems))
    return found


def _load(text: str, path: str) -> RepoConfig:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    try:
        check_size(yaml, text, path)
        data = yaml.load(io.StringIO(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, [f"{where}: not valid YAML: {problem}"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, ["line 1: the top level must be a mapping (key: value)"])
    try:
        return RepoConfig.model_validate(_plain(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            line = line_of(data, err["loc"])
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{'.'.join(loc) or '(top level)'}: {err['msg']}")
        raise ConfigError(path, problems) from exc


def config_schema() -> dict[str, Any]:
    """JSON Schema of the config file, for editors."""
    schema = RepoConfig.model_json_schema(by_alias=True)
    schema["title"] = "mlops-bot repository configuration (.github/mlops-bot.yml)"
    return schema


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest key of `loc` that exists in the ruamel tree."""
    node, line = data, None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line
