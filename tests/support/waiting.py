"""Waiting for something a test can see (a log line, a row gone), up to a deadline.

A live server writes its request lines from a thread every 50 ms, and logs what its
background work did after that work's commit: a test that reads the log at once may read it
too early. It waits for the line instead, polling, never for a fixed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from support.clock import real_sleep

T = TypeVar("T")
POLL_EVERY = 0.05


def wait_until(
    check: Callable[[], T],
    seconds: float = 15,
    what: str = "the condition",
    every: float = POLL_EVERY,
) -> T:
    """`check()`'s first true answer, polled every `every` seconds until `seconds` have
    passed; else fail."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s")
        real_sleep(every)


def log_with(read_log: Callable[[], str], *needles: str, seconds: float = 15) -> str:
    """The log (as `read_log()` gives it) once it holds every one of `needles`."""

    def holds_them() -> str:
        log = read_log()
        return log if all(needle in log for needle in needles) else ""

    return wait_until(holds_them, seconds, f"log lines with {needles!r}")
