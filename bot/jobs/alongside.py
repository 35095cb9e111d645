"""Two independent steps of a job at once: the card comment beside its Check Run, the bento build beside the
Deployment's bookkeeping. Each step always runs to its end, so one that fails never loses the other's effect."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


def alongside(main: Callable[[], A], other: Callable[[], B]) -> tuple[A, B]:
    """Run `other` in a thread while `main` runs in this one; return both results once both are done.

    An exception of either is raised only after the other has finished (its effect is kept); when both fail,
    `main`'s exception is raised with a note naming `other`'s. The thread carries this one's context (the job's
    log fields). Steps that call GitHub at the same time need a client each (`RepoGitHub.beside()`)."""
    got: list[B] = []
    failed: list[BaseException] = []

    def run_other() -> None:
        try:
            got.append(other())
        except BaseException as exc:  # raised in the caller's thread below
            failed.append(exc)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run_other,), daemon=True)
    thread.start()
    try:
        first = main()
    except BaseException as exc:
        thread.join()
        if failed:
            exc.add_note(f"meanwhile {type(failed[0]).__name__}: {failed[0]}")
        raise
    thread.join()
    if failed:
        raise failed[0]
    return first, got[0]
