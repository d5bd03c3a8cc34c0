"""Schemathesis hooks of `make fuzz`: every authenticated request carries a real token.

A token comes from the whole sign-in flow against the server under test: register a
fresh account, log in with its password, verify a real TOTP code (pyotp). Each
/auth/logout case gets a token of its own, so logging out never spoils the others.
"""

from __future__ import annotations

import itertools
import os
import uuid
from typing import Any

import pyotp
import requests
import schemathesis

BASE_URL = os.environ["FUZZ_BASE_URL"]
PASSWORD = "fuzzing-otter-lantern-42"  # noqa: S105 - a throwaway account on a scratch database
_logouts = itertools.count()


def sign_in() -> str:
    """A fresh account, its password and a real TOTP code: an access token."""
    username = f"fuzz_{uuid.uuid4().hex[:12]}"
    with requests.Session() as http:
        r = http.post(
            f"{BASE_URL}/auth/register",
            json={"username": username, "password": PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        secret = r.json()["totp"]["secret"]
        r = http.post(
            f"{BASE_URL}/auth/login",
            json={"username": username, "password": PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        r = http.post(
            f"{BASE_URL}/auth/verify",
            json={"mfa_token": r.json()["mfa_token"], "otp": pyotp.TOTP(secret).now()},
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


def _cache_key(case: Any, _ctx: Any) -> str:
    if case.operation.path == "/auth/logout":
        return f"logout-{next(_logouts)}"
    return "shared"


@schemathesis.auth(refresh_interval=240, cache_by_key=_cache_key)
class FreshToken:
    def get(self, case: Any, ctx: Any) -> str:
        return sign_in()

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
