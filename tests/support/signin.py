"""Signing in as a user does: register, log in with the password, verify a real TOTP code.

`AuthActions` drives Flask's test client; `HttpAuth` does the same over real HTTP against a
live server. Codes come from pyotp and real time steps, never from a shortcut. Nothing here
waits for the clock: in-process, the service's clock is moved on (support.clock); against a
live server, an account that has used up its codes fails loudly, and the test signs in with
a recovery code (`verify_with_recovery_code`) or a fresh account instead.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyotp
import requests

from shopapi import clock as service_clock
from support.clock import Clock, MovableClock, installed, wait_before_failing
from support.servers import FromAddress

PASSWORD = "violet-harbour-lantern"
_names = itertools.count()


class SystemClock:
    """The time a live server reads: its process's system clock, which no test moves."""

    def now(self) -> float:
        return time.time()


SYSTEM_CLOCK = SystemClock()


@dataclass
class Account:
    id: int
    username: str
    password: str
    secret: str
    recovery_codes: list[str]
    used_steps: set[int] = field(default_factory=set)
    # The clock of the service that checks this account's codes: a MovableClock in-process,
    # the system clock for a live server.
    clock: Clock = field(default_factory=lambda: SYSTEM_CLOCK, repr=False)

    def current_code(self, secret: str | None = None) -> str:
        """The code of the account's (or another) secret for its service's current step, as
        an authenticator app shows it."""
        return pyotp.TOTP(secret or self.secret).at(self.clock.now())

    def replace_authenticator(self, secret: str) -> None:
        """The account now signs in with `secret`, whose current step the confirmation used."""
        self.secret, self.used_steps = secret, {int(self.clock.now()) // 30}

    def next_code(self) -> str:
        """A valid code this account has not used yet: the current step's, else the next's.

        When both are used, an in-process service's clock moves on to the next step; a live
        server's cannot, and this fails rather than wait (up to 30 s) for it.
        """
        while True:
            now = self.clock.now()
            step = int(now) // 30
            for candidate in (step, step + 1):
                if all(candidate > used for used in self.used_steps):
                    self.used_steps.add(candidate)
                    return pyotp.TOTP(self.secret).at(candidate * 30)
            usable_from = max(self.used_steps) * 30.0  # its step's next is then in the window
            if isinstance(self.clock, MovableClock):
                self.clock.advance_to(usable_from)
            else:
                wait_before_failing(
                    usable_from - now + 0.05,
                    f"{self.username} has used the codes of this step and the next; sign in "
                    "again with a recovery code (verify_with_recovery_code) or a fresh account",
                )


class AuthActions:
    """Walks the whole flow: register, log in with the password, verify a real TOTP code.

    Its accounts' codes follow `clock`: by default the in-process service's (the test's
    MovableClock)."""

    def __init__(self, client: Any, clock: Clock | None = None) -> None:
        self.client = client
        self.clock = clock if clock is not None else installed()

    def register(self, username: str | None = None, password: str = PASSWORD) -> Account:
        username = username or f"user{next(_names)}_{uuid.uuid4().hex[:6]}"
        r = self.client.post("/auth/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        return Account(
            body["id"],
            username,
            password,
            body["totp"]["secret"],
            body["recovery_codes"],
            clock=self.clock,
        )

    def login(self, account: Account) -> str:
        r = self.client.post(
            "/auth/login", json={"username": account.username, "password": account.password}
        )
        assert r.status_code == 200, r.get_json()
        return str(r.get_json()["mfa_token"])

    def verify(self, account: Account, mfa_token: str) -> str:
        r = self.client.post(
            "/auth/verify", json={"mfa_token": mfa_token, "otp": account.next_code()}
        )
        assert r.status_code == 200, r.get_json()
        return str(r.get_json()["access_token"])

    def verify_with_recovery_code(self, account: Account, mfa_token: str) -> dict[str, Any]:
        """The 200 body of a sign-in with one of the account's unused recovery codes (used
        up): another sign-in that needs no new TOTP step."""
        code = account.recovery_codes.pop()
        r = self.client.post("/auth/verify", json={"mfa_token": mfa_token, "recovery_code": code})
        assert r.status_code == 200, r.get_json()
        body: dict[str, Any] = r.get_json()
        return body

    def sign_in(self, account: Account | None = None) -> tuple[Account, str]:
        account = account or self.register()
        return account, self.verify(account, self.login(account))

    def headers(self, account: Account | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sign_in(account)[1]}"}


class HttpAuth(AuthActions):
    """The same flow over real HTTP (requests) against a live server; from `source` (a
    loopback address, so that its per-address budget is its own) when one is given."""

    def __init__(self, base_url: str, source: str | None = None) -> None:
        self.base = base_url
        self.http = requests.Session()
        if source is not None:
            self.http.mount("http://", FromAddress(source))
        super().__init__(RequestsClient(self.http, base_url), SYSTEM_CLOCK)


class RequestsClient:
    """Adapts requests to the small part of Flask's test client the helpers use."""

    def __init__(self, http: requests.Session, base: str) -> None:
        self.http, self.base = http, base

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        r = self.http.post(self.base + path, json=json, headers=headers, timeout=30)
        r.get_json = r.json  # type: ignore[attr-defined]
        return r


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of an access token."""
    return {"Authorization": f"Bearer {token}"}


def settled_time(margin: float = 3.0) -> float:
    """The in-process service's now, at least `margin` seconds before its TOTP step ends
    (the clock moves on to the next step when it is too close).

    A test that computes codes for "now - 30 s" must not see the step change before the
    service checks them.
    """
    clock = installed()
    now = clock.now()
    if 30 - now % 30 < margin:
        clock.advance_to((int(now) // 30 + 1) * 30.0)
    return clock.now()


def wrong_code(secret: str, now: float | None = None) -> str:
    """A 6-digit code that matches none of the steps around now (so it is surely wrong)."""
    now = service_clock.now() if now is None else now
    totp = pyotp.TOTP(secret)
    near = {totp.at(now + 30 * k) for k in range(-3, 4)}
    candidates = (f"{(123456 + 7919 * k) % 1_000_000:06d}" for k in itertools.count())
    return next(c for c in candidates if c not in near)
