"""Passkeys against the real server over HTTP, with a software authenticator: adding one,
signing in with it, and every way an assertion is refused (replayed, another account's, a
signature count that goes backwards), counted toward the same limits as codes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from support import Account, HttpAuth, LiveServer, wrong_code
from support.webauthn_device import SoftPasskey

pytestmark = pytest.mark.e2e
WRONG_CODE = "The code is wrong or has already been used."


class Browser:
    """A user at the site with a passkey: what the web console does, over HTTP."""

    def __init__(self, server: LiveServer, auth: HttpAuth) -> None:
        self.base = server.url
        # The site's address as the default WEBAUTHN_ORIGINS names it (the server's port).
        self.origin = f"http://localhost:{urlsplit(server.url).port}"
        self.auth = auth

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.base + path, json=body, headers=headers, timeout=30)

    def add_passkey(self, account: Account, token: str) -> SoftPasskey:
        proof = {"password": account.password, "recovery_code": account.recovery_codes.pop()}
        options = self.post("/auth/passkeys/options", proof, token)
        assert options.status_code == 200, options.text
        device = SoftPasskey(self.origin)
        body = {"name": "Security key", "credential": device.create(options.json())}
        r = self.post("/auth/passkeys", body, token)
        assert r.status_code == 201, r.text
        return device

    def login(self, account: Account) -> tuple[str, dict[str, Any]]:
        """The mfa_token and the passkey request options bound to it."""
        r = self.post("/auth/login", {"username": account.username, "password": account.password})
        assert r.status_code == 200 and "passkey" in r.json()["methods"], r.text
        mfa_token = r.json()["mfa_token"]
        options = self.post("/auth/verify/passkey-options", {"mfa_token": mfa_token})
        assert options.status_code == 200, options.text
        return mfa_token, options.json()

    def verify(self, mfa_token: str, assertion: dict[str, Any]) -> Any:
        return self.post("/auth/verify", {"mfa_token": mfa_token, "passkey": assertion})

    def events(self, token: str) -> list[dict[str, Any]]:
        r = requests.get(
            self.base + "/auth/events", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        items: list[dict[str, Any]] = r.json()["items"]
        return items


@pytest.fixture
def browser(live_server: LiveServer, http_auth: HttpAuth) -> Browser:
    return Browser(live_server, http_auth)


def test_add_a_passkey_and_sign_in_with_it(browser: Browser, http_auth: HttpAuth) -> None:
    account, token = http_auth.sign_in()
    device = browser.add_passkey(account, token)
    mfa_token, options = browser.login(account)
    r = browser.verify(mfa_token, device.get(options))
    assert r.status_code == 200, r.text
    me = requests.get(
        browser.base + "/auth/me",
        headers={"Authorization": f"Bearer {r.json()['access_token']}"},
        timeout=30,
    )
    assert me.json()["username"] == account.username
    # The mfa_token is used up: the same assertion again gets nothing.
    assert browser.verify(mfa_token, device.get(options)).status_code == 401


def test_a_replayed_assertion_is_refused(browser: Browser, http_auth: HttpAuth) -> None:
    account, token = http_auth.sign_in()
    device = browser.add_passkey(account, token)
    mfa_token, options = browser.login(account)
    seen = device.get(options)
    assert browser.verify(mfa_token, seen).status_code == 200
    # Someone who saw that assertion replays it on a sign-in of their own.
    mfa_token, _ = browser.login(account)
    r = browser.verify(mfa_token, seen)
    assert r.status_code == 401 and r.json()["detail"] == WRONG_CODE
    # On its own challenge, too, an assertion is judged once, right or wrong.
    mfa_token, options = browser.login(account)
    assertion = device.get(options)
    tampered = {**assertion, "response": {**assertion["response"], "signature": "MAYCAQECAQE"}}
    assert browser.verify(mfa_token, tampered).status_code == 401
    assert browser.verify(mfa_token, assertion).status_code == 401


def test_another_accounts_passkey_is_refused(browser: Browser, http_auth: HttpAuth) -> None:
    alice, alice_token = http_auth.sign_in()
    browser.add_passkey(alice, alice_token)
    bob, bob_token = http_auth.sign_in()
    bobs_key = browser.add_passkey(bob, bob_token)
    mfa_token, options = browser.login(alice)
    # Bob's authenticator answers Alice's challenge (its browser would not be asked).
    options["allowCredentials"].append({"id": bobs_key.id, "type": "public-key"})
    r = browser.verify(mfa_token, bobs_key.get(options))
    assert r.status_code == 401 and r.json()["detail"] == WRONG_CODE
    assert browser.events(alice_token)[0]["type"] == "code_failed"


def test_a_signature_count_that_goes_backwards_is_refused_and_logged(
    browser: Browser, http_auth: HttpAuth
) -> None:
    account, token = http_auth.sign_in()
    device = browser.add_passkey(account, token)
    for _ in range(2):
        mfa_token, options = browser.login(account)
        assert browser.verify(mfa_token, device.get(options)).status_code == 200
    device.sign_count = 0  # a clone of the key as it was when added: its count is behind
    mfa_token, options = browser.login(account)
    r = browser.verify(mfa_token, device.get(options))
    assert r.status_code == 401 and r.json()["detail"] == WRONG_CODE
    events = browser.events(token)
    (passkey,) = requests.get(
        browser.base + "/auth/passkeys", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["items"]
    regressed = [e for e in events if e["type"] == "passkey_counter_regressed"]
    assert [e["passkey_id"] for e in regressed] == [passkey["id"]]
    assert {"code_failed", "passkey_counter_regressed"} <= {e["type"] for e in events[:2]}


def test_wrong_passkeys_and_wrong_codes_share_the_limits(
    browser: Browser, http_auth: HttpAuth
) -> None:
    account, token = http_auth.sign_in()
    device = browser.add_passkey(account, token)
    # Five wrong assertions kill an mfa_token, as five wrong codes do.
    mfa_token, options = browser.login(account)
    for _ in range(5):
        assertion = device.get(options)
        browser.post("/auth/verify/passkey-options", {"mfa_token": mfa_token})
        assert browser.verify(mfa_token, assertion).status_code == 401  # an outdated challenge
        options = browser.post("/auth/verify/passkey-options", {"mfa_token": mfa_token}).json()
    r = browser.post("/auth/verify/passkey-options", {"mfa_token": mfa_token})
    assert r.status_code == 401
    # Five wrong codes more make ten for the account: even the right passkey now waits.
    mfa_token, _ = browser.login(account)
    for _ in range(5):
        r = browser.post(
            "/auth/verify", {"mfa_token": mfa_token, "otp": wrong_code(account.secret)}
        )
        assert r.status_code == 401
    mfa_token, options = browser.login(account)
    r = browser.verify(mfa_token, device.get(options))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "locked_out" in [e["type"] for e in browser.events(token)]
