"""Extension objects, built per application so several apps never share state.

The per-address limits, and the global budget every client shares, are declared at the
views they apply to (`per_address`, `for_everyone`, right under the route) and checked
there, by nothing else: a request to any other view
pays nothing for them, and only a 429 carries `Retry-After` (no `X-RateLimit-*` headers
on other answers).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

from . import metrics
from .config import ConfigError, Settings
from .errors import ApiError

log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., Any])
KEY_PREFIX = "shopapi"
EVERYONE = "everyone"  # the key of a limit that counts every client together
TOO_MANY_FROM_ADDRESS = "Too many requests from this address; wait before trying again."
# While Redis is unreachable, look again after this many seconds (doubling up to the cap).
RECHECK_FIRST, RECHECK_MAX = 1.0, 32.0


def client_key(address: str | None) -> str:
    """What a per-address limit counts: an IPv4 address, or an IPv6 client's /64 prefix.

    A single IPv6 subscriber usually holds a whole /64 (2^64 addresses); counting each
    address apart would give it that many budgets.
    """
    if not address or ":" not in address:
        return address or "unknown"
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return f"{ipaddress.IPv6Network((int(ip) >> 64 << 64, 64))}"


class LocalWindows:
    """Fixed windows counted in this process's memory: a dict under a lock, O(1) a hit.

    For budgets spent on every request (an API key's): limits' MemoryStorage starts a timer
    thread whenever its last one has ended, which costs a request more than the rest of
    its rate limiting; a stale window is simply replaced at its key's next hit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], tuple[float, int]] = {}

    def hit(self, item: RateLimitItem, scope: str, key: str) -> int | None:
        """Count one hit; the seconds to wait when the window is full (None: counted)."""
        span = item.get_expiry()
        now = time.time()
        start = now - now % span
        slot = (scope, key, span)
        with self._lock:
            began, count = self._counts.get(slot, (start, 0))
            if began != start:
                began, count = start, 0
            if count >= item.amount:
                return max(1, math.ceil(began + span - now))
            self._counts[slot] = (began, count + 1)
        return None


class AddressLimiter:
    """Moving-window limits per client address, in Redis (REDIS_URL) or in memory.

    When Redis is unreachable the limiter counts in this process's memory with the same
    limits and logs a warning instead of failing the request (never a 500, never unlimited
    guessing); it tries Redis again from time to time and goes back to it once it answers.
    """

    def __init__(self, redis_url: str | None, *, fixed_windows: bool = False) -> None:
        self.shared: Storage | None = None
        if redis_url:
            self.shared = RedisStorage(
                redis_url, wrap_exceptions=True, socket_connect_timeout=1, socket_timeout=1
            )
        self.memory = MemoryStorage()
        # With fixed windows (one counter a window, for budgets spent on every request),
        # memory counts go to `LocalWindows` instead of limits' MemoryStorage.
        self.local = LocalWindows() if fixed_windows else None
        strategy: type[RateLimiter] = (
            FixedWindowRateLimiter if fixed_windows else MovingWindowRateLimiter
        )
        self._strategies = {id(s): strategy(s) for s in (self.shared, self.memory) if s is not None}
        self._lock = threading.Lock()
        self._down_until: float | None = None
        self._recheck = RECHECK_FIRST

    def spend(
        self,
        items: Sequence[RateLimitItem],
        scope: str,
        key: str,
        name: str | None = None,
        detail: str = TOO_MANY_FROM_ADDRESS,
    ) -> None:
        """Count one request of `key`; 429 with Retry-After when a limit is exhausted
        (counted in metrics as a refusal of the limit `name`)."""
        storage = self._storage()
        try:
            waits = self._spend(storage, items, scope, key)
        except StorageError:
            self._mark_down()
            storage = self.memory
            waits = self._spend(storage, items, scope, key)
        if storage is self.memory and self.shared is not None:
            metrics.rate_limit_fallback()
        if waits:
            metrics.rate_limited(name or scope)
            raise ApiError(
                429,
                detail,
                headers={"Retry-After": str(max(waits))},
            )

    def _spend(
        self, storage: Storage, items: Sequence[RateLimitItem], scope: str, key: str
    ) -> list[int]:
        if storage is self.memory and self.local is not None:
            local = self.local
            return [w for w in (local.hit(item, scope, key) for item in items) if w is not None]
        strategy = self._strategies[id(storage)]
        waits = []
        for item in items:
            if not strategy.hit(item, KEY_PREFIX, scope, key):
                reset_at = strategy.get_window_stats(item, KEY_PREFIX, scope, key).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
        return waits

    def _storage(self) -> Storage:
        if self.shared is None:
            return self.memory
        if self._down_until is None:
            return self.shared
        if time.monotonic() < self._down_until:
            return self.memory
        if self.shared.check():
            with self._lock:
                self._down_until, self._recheck = None, RECHECK_FIRST
            log.info("Rate limit storage recovered")
            return self.shared
        with self._lock:
            self._recheck = min(self._recheck * 2, RECHECK_MAX)
            self._down_until = time.monotonic() + self._recheck
        return self.memory

    def _mark_down(self) -> None:
        with self._lock:
            if self._down_until is None:
                log.warning("Rate limit storage unreachable - falling back to in-memory storage")
            self._down_until = time.monotonic() + self._recheck


def make_limiter(app: Flask, settings: Settings) -> AddressLimiter:
    limiter = AddressLimiter(settings.redis_url)
    app.extensions["shopapi_limiter"] = limiter
    # API keys' budgets: fixed windows, one counter each (spent on every request with a key).
    app.extensions["shopapi_key_limiter"] = AddressLimiter(settings.redis_url, fixed_windows=True)
    return limiter


# A view's limits name the setting that holds them: (settings) -> "100/minute;1000/hour".
Setting = Callable[[Settings], str]


@lru_cache(maxsize=64)
def parse_limits(limits: str) -> tuple[RateLimitItem, ...]:
    """Flask-Limiter's notation ("100/minute;1000/hour"); ConfigError when it is not one."""
    try:
        return tuple(parse_many(limits))
    except ValueError:
        raise ConfigError(f"{limits!r} is not a rate limit such as 100/minute") from None


def _declared(view: Callable[..., Any], setting: Setting) -> None:
    """Keep the setting on the view, so that start-up checks every declared limit."""
    view.__dict__["rate_limit_settings"] = [*view.__dict__.get("rate_limit_settings", ()), setting]


def _spend(
    setting: Setting,
    scope: str,
    key: str,
    name: str,
    detail: str,
    limiter_name: str = "shopapi_limiter",
) -> None:
    limiter: AddressLimiter = current_app.extensions[limiter_name]
    limits = setting(current_app.extensions["settings"])
    limiter.spend(parse_limits(limits), scope, key, name, detail)


def per_address(scope: str, setting: Setting) -> Callable[[View], View]:
    """Each call of the view spends one from every limit of `setting`, counted per client
    address and shared by every view of the same `scope`; 429 with Retry-After past it.
    Goes right under the route, so a refused request costs no parsing of its body."""
    name = f"{scope.replace('-', '_')}_per_address"  # what metrics call this limit

    def decorate(view: View) -> View:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            _spend(setting, scope, client_key(request.remote_addr), name, TOO_MANY_FROM_ADDRESS)
            return view(*args, **kwargs)

        _declared(limited, setting)
        return limited  # type: ignore[return-value]

    return decorate


def for_everyone(scope: str, setting: Setting, detail: str) -> Callable[[View], View]:
    """Like `per_address`, but one budget for every client together: a flood from many
    addresses, each within its own limit, still meets this one (429 with `detail`). Without
    Redis (or while it is unreachable) each process counts its own budget."""
    name = f"{scope.replace('-', '_')}_global"

    def decorate(view: View) -> View:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            _spend(setting, scope, EVERYONE, name, detail)
            return view(*args, **kwargs)

        _declared(limited, setting)
        return limited  # type: ignore[return-value]

    return decorate


TOO_MANY_WITH_KEY = "Too many requests with this API key; wait before trying again."


def per_api_key(key_id: int) -> None:
    """Spend one request of the API key `key_id` (counted by its id, never by the key):
    429 with Retry-After past API_KEY_RATE_LIMIT. Called by the caller's check once the key
    is accepted, whatever view it calls."""
    _spend(
        lambda s: s.api_key_rate_limit,
        "api-key",
        str(key_id),
        "api_key",
        TOO_MANY_WITH_KEY,
        "shopapi_key_limiter",
    )


def check_rate_limits(app: Flask, settings: Settings) -> None:
    """Refuse to start (ConfigError) when a limit that a view declares is not a rate."""
    parse_limits(settings.api_key_rate_limit)
    for view in app.view_functions.values():
        for setting in getattr(view, "rate_limit_settings", ()):
            parse_limits(setting(settings))
