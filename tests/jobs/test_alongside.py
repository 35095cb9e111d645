"""`alongside`: two steps at once, each run to its end whatever the other does."""

from __future__ import annotations

import threading

import pytest

from bot.jobs.alongside import alongside


def test_both_results_come_back_and_the_steps_overlap() -> None:
    both_started = threading.Barrier(2, timeout=10)  # broken (and raising) unless the two run at once

    def step(value: str) -> str:
        both_started.wait()
        return value

    assert alongside(lambda: step("card"), lambda: step("check")) == ("card", "check")


def test_a_failing_step_is_raised_after_the_other_has_done_its_work() -> None:
    done: list[str] = []

    def slow_effect() -> str:
        done.append("check written")
        return "ok"

    def refused() -> None:
        raise ValueError("card refused")

    with pytest.raises(ValueError, match="card refused"):
        alongside(refused, slow_effect)
    assert done == ["check written"]
    with pytest.raises(ValueError, match="card refused"):
        alongside(lambda: done.append("card written"), refused)
    assert done == ["check written", "card written"]


def test_when_both_fail_the_error_names_the_other_too() -> None:
    def boom(what: str) -> None:
        raise RuntimeError(what)

    with pytest.raises(RuntimeError, match="card") as raised:
        alongside(lambda: boom("card"), lambda: boom("check"))
    assert any("check" in note for note in raised.value.__notes__)
