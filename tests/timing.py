"""Timing helper: a parser of clerk-typed text must take time linear in the text's length.

A cell holds up to 32,767 characters, and a regex that backtracks turns one odd cell
into minutes of work for every collection. Absolute times depend on the machine, so the
test compares the same call on an input and on one ten times as long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def _per_call(fn: Callable[[Any], object], arg: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(arg)
    return (time.perf_counter() - start) / calls


def _quiet(fn: Callable[[Any], object]) -> Callable[[Any], object]:
    """The call whether it returns or raises (a parser may reject the text: that takes time too)."""

    def call(arg: Any) -> object:
        try:
            return fn(arg)
        except ValueError:
            return None

    return call


def assert_linear(fn: Callable[[Any], object], small: Any, large: Any, ratio: float = 20.0, rounds: int = 5) -> None:
    """`fn(large)` (ten times `small`) takes at most `ratio` times as long as `fn(small)`.

    The two are measured in turns and the best of each kept, so other work on a shared machine
    slows both alike or neither.
    """
    call = _quiet(fn)
    calls = 1
    while _per_call(call, small, calls) * calls < 0.01 and calls < 10_000:  # long enough to measure
        calls *= 4
    one = ten = float("inf")
    for _ in range(rounds):
        one = min(one, _per_call(call, small, calls))
        ten = min(ten, _per_call(call, large, max(1, calls // 10)))
    assert ten <= ratio * one, f"{ten * 1000:.2f} ms for 10× the input against {one * 1000:.3f} ms"
