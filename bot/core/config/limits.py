"""Bounds on the YAML itself, checked on the event stream before anything is built: a few anchors that
refer to each other ("billion laughs") expand to billions of nodes. A real config is a few hundred nodes."""

from __future__ import annotations

import io
from typing import Any

from bot.core.config.errors import ConfigError

MAX_CONFIG_BYTES = 256 * 1024
MAX_ALIASES = 100
MAX_NODES = 10_000  # counted with every alias expanded
MAX_DEPTH = 32


def check_size(yaml: Any, text: str, path: str) -> None:
    """Refuse a document too big, too deep or with too many aliases, from its events (which never expand an
    alias), so the cost is linear in the text. ConfigError names the line where a bound was crossed."""
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise ConfigError(path, [f"the file is over {MAX_CONFIG_BYTES // 1024} KiB; a config is a few KiB"])
    anchored: dict[str, int] = {}  # anchor -> nodes it stands for, aliases inside it expanded
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes so far) of each open collection
    total = aliases = 0
    for event in yaml.parse(io.StringIO(text)):
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ConfigError(path, [f"line {line}: more than {MAX_ALIASES} aliases (*name)"])
            size = anchored.get(str(event.anchor), 1)
        elif isinstance(event, ScalarEvent):
            size = 1
            if event.anchor:
                anchored[str(event.anchor)] = 1
        elif isinstance(event, CollectionStartEvent):
            open_nodes.append((event.anchor, 1))
            if len(open_nodes) > MAX_DEPTH:
                raise ConfigError(path, [f"line {line}: nested more than {MAX_DEPTH} levels deep"])
            continue
        elif isinstance(event, CollectionEndEvent):
            anchor, size = open_nodes.pop()
            if anchor:
                anchored[str(anchor)] = size
            if open_nodes:
                parent_anchor, parent_size = open_nodes[-1]
                open_nodes[-1] = (parent_anchor, parent_size + size)
            continue
        else:
            continue
        total += size
        if open_nodes:
            parent_anchor, parent_size = open_nodes[-1]
            open_nodes[-1] = (parent_anchor, parent_size + size)
        if total > MAX_NODES:
            raise ConfigError(
                path,
                [f"line {line}: the aliases expand to more than {MAX_NODES} values; write it out plainly"],
            )
