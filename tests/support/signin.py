"""Signing in as a user does: register, log in with the password, verify a real TOTP code.

`AuthActions` drives Flask's test client; `HttpAuth` does the same over real HTTP against a
live server. Codes come from pyotp and real time steps, never from a shortcut.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyotp
import requests

from support.servers import FromAddress

PASSWORD = "violet-harbour-lantern"
_names = itertools.count()


@dataclass
class Account:
    id: int
    username: str
    password: str
    secret: str
    recovery_codes: list[str]
    used_steps: set[int] = field(default_factory=set)

    def next_code(self) -> str:
        """A valid code this account has not used yet (the current step, else the next)."""
        while True:
            now = int(time.time()) // 30
            for step in (now, now + 1):
                if step not in self.used_steps and all(step > s for s in self.used_steps):
                    self.used_steps.add(step)
                    return pyotp.TOTP(self.secret).at(step * 30)
            time.sleep(30 - time.time() % 30 + 0.05)


class AuthActions:
    """Walks the whole flow: register, log in with the password, verify a real TOTP code."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def register(self, username: str | None = None, password: str = PASSWORD) -> Account:
        username = username or f"user{next(_names)}_{uuid.uuid4().hex[:6]}"
        r = self.client.post("/auth/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        return Account(
            body["id"], username, password, body["totp"]["secret"], body["recovery_codes"]
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
        super().__init__(RequestsClient(self.http, base_url))


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
    """Now, at least `margin` seconds before the TOTP step ends (waits a moment if needed).

    A test that computes codes for "now - 30 s" must not see the step change before the
    server checks them.
    """
    remaining = 30 - time.time() % 30
    if remaining < margin:
        time.sleep(remaining + 0.05)
    return time.time()


def wrong_code(secret: str, now: float | None = None) -> str:
    """A 6-digit code that matches none of the steps around now (so it is surely wrong)."""
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    near = {totp.at(now + 30 * k) for k in range(-3, 4)}
    candidates = (f"{(123456 + 7919 * k) % 1_000_000:06d}" for k in itertools.count())
    return next(c for c in candidates if c not in near)
