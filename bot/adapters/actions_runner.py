"""Where a GitHub Actions runner reads what a step says: annotations and groups in the log, outputs in
`$GITHUB_OUTPUT`, Markdown in `$GITHUB_STEP_SUMMARY`. Outside Actions (no GITHUB_ACTIONS=true) every method
does nothing, so a terminal never sees `::group::` lines."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bot.core.actions_output import GROUP_END, Annotation, group_start, output_entry


class ActionsRunner:
    def __init__(self, environ: Mapping[str, str], log: IO[str] | None = None) -> None:
        self.active = environ.get("GITHUB_ACTIONS") == "true"
        self._log = log if log is not None else sys.stderr
        self._output = environ.get("GITHUB_OUTPUT", "") if self.active else ""
        self._summary = environ.get("GITHUB_STEP_SUMMARY", "") if self.active else ""
        self._group_open = False

    def annotate(self, note: Annotation) -> None:
        if self.active:
            self._say(note.command())

    def start_group(self, title: str) -> None:
        """Folds the log lines that follow under `title`, closing the group before it (groups do not nest)."""
        if not self.active:
            return
        self.end_group()
        self._say(group_start(title))
        self._group_open = True

    def end_group(self) -> None:
        if self._group_open:
            self._say(GROUP_END)
            self._group_open = False

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.start_group(title)
        try:
            yield
        finally:
            self.end_group()

    def set_output(self, name: str, value: str) -> None:
        if self._output:
            entry = output_entry(name, value, delimiter=f"ghadelimiter_{secrets.token_hex(16)}")
            with Path(self._output).open("a", encoding="utf-8") as out:
                out.write(entry)

    def append_summary(self, markdown: str) -> None:
        if self._summary and markdown.strip():
            with Path(self._summary).open("a", encoding="utf-8") as out:
                out.write(markdown.rstrip("\n") + "\n\n")

    def _say(self, line: str) -> None:
        self._log.write(line + "\n")
        self._log.flush()
