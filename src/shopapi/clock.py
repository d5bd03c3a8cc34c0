"""Now, for the whole service: TOTP steps, token times and database timestamps read it here.

In production it is the system clock. Tests move it instead of waiting for it (see
tests/support/clock.py): one place to replace, so every check agrees on what time it is.
"""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch (UTC), as `time.time()`."""
    return time.time()
