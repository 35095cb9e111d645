"""The canary's router (copied into the bento): a key always lands on the same side, keys spread by the share,
and a new canary (another salt) reshuffles them."""

from __future__ import annotations

import itertools

from bot.adapters.canary_routing import key_point, to_canary


def test_a_key_always_lands_on_the_same_side_and_keys_spread_by_the_share() -> None:
    keys = [f"user-{i}" for i in range(20_000)]
    first = [to_canary(0.1, k, salt="m:1:2") for k in keys]
    assert first == [to_canary(0.1, k, salt="m:1:2") for k in keys]
    assert abs(sum(first) / len(keys) - 0.1) < 0.01
    assert all(0 <= key_point(k, "s") < 1 for k in keys[:100])


def test_another_canary_reshuffles_the_keys() -> None:
    keys = [f"user-{i}" for i in range(2_000)]
    one = {k for k in keys if to_canary(0.5, k, salt="m:1:2")}
    other = {k for k in keys if to_canary(0.5, k, salt="m:1:3")}
    assert one != other and 0.4 < len(one & other) / len(one) < 0.6


def test_without_a_key_each_request_draws_and_share_zero_never_routes() -> None:
    draws = itertools.cycle([0.05, 0.5])
    assert [to_canary(0.1, None, salt="s", draw=lambda: next(draws)) for _ in range(4)] == [True, False] * 2
    assert not any(to_canary(0.0, k, salt="s") for k in ("a", "b", "c"))
    assert to_canary(0.1, "", salt="s", draw=lambda: 0.01)  # an empty key is no key
