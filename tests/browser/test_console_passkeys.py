"""Passkeys in the console, in headless Chromium with WebDriver's virtual authenticator
(a platform authenticator with user verification, as a laptop's fingerprint reader).

The console is opened at http://localhost:PORT: browsers refuse an IP address as a
relying party, and the server's default WEBAUTHN_ORIGINS is that address (its own port).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import RequestLog, chromium, no_page_errors, same_origin_only
from console_driver import Console, axe_source
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
from support import PASSWORD, LiveServer

# The console does not depend on the database: one browser test runs on MariaDB too
# (tests/browser/test_console.py, the staff member's whole flow).
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.sqlite_only]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path, window=(1280, 1000)) as driver:
        yield driver


@pytest.fixture
def site(live_server: LiveServer) -> str:
    return live_server.url.replace("://127.0.0.1:", "://localhost:")


@pytest.fixture
def console(browser: Any, site: str, backend: str) -> Console:
    return Console(browser, site, axe_source(), backend)


# What an older browser lacks (before WebAuthn Level 3); the page keeps it until a reload.
WITHOUT_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
return [typeof PublicKeyCredential.parseCreationOptionsFromJSON,
        typeof PublicKeyCredential.parseRequestOptionsFromJSON,
        typeof PublicKeyCredential.prototype.toJSON];
"""


def platform_authenticator(driver: Any) -> None:
    """The device's own authenticator (its fingerprint reader), the user always present."""
    options = VirtualAuthenticatorOptions(
        protocol=VirtualAuthenticatorOptions.Protocol.CTAP2,
        transport=VirtualAuthenticatorOptions.Transport.INTERNAL,
        has_resident_key=True,
        has_user_verification=True,
        is_user_verified=True,
    )
    driver.add_virtual_authenticator(options)


def test_a_passkey_added_in_the_console_signs_in_after_the_password(
    console: Console, site: str
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    platform_authenticator(driver)
    codes = console.sign_up("kim")

    console.click("Your account")
    console.click("Passkeys")
    console.on_page("Passkeys")
    console.shows("No passkeys yet.")
    console.click("Add a passkey")
    console.on_page("Add a passkey")
    # No name: said beside the field before the proof is spent.
    console.prove(PASSWORD, codes[0])
    console.button("Add passkey").click()
    assert "name" in console.error_beside("Name of the passkey")
    assert console.value("Recovery code") == codes[0]
    # A wrong password: the API's refusal, nothing asked of the authenticator.
    console.fill("Name of the passkey", "Work laptop")
    console.fill("Current password", "not-the-password")
    console.button("Add passkey").click()
    assert "wrong" in console.alert()
    console.fill("Current password", PASSWORD)
    console.check("passkey-add", docs=True)
    console.button("Add passkey").click()
    console.on_page("Passkeys")
    assert "Work laptop" in console.flash()
    rows = console.rows("passkeys")
    assert len(rows) == 1 and rows[0][0].startswith("Work laptop") and rows[0][2] == "never"
    console.check("passkeys", docs=True)

    # Renamed on its own page.
    console.click("Work laptop: rename or remove")
    console.on_page("Passkey “Work laptop”")
    console.fill("Name of the passkey", "Blue key")
    console.button("Rename").click()
    console.on_page("Passkeys")
    assert console.rows("passkeys")[0][0].startswith("Blue key")

    # Signed out, the password then the passkey sign in; no code is typed.
    console.click("Sign out")
    console.on_page("Sign in")
    console.fill("Username", "kim")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    console.button("Sign in with a passkey")
    console.check("sign-in-passkey")
    console.button("Sign in with a passkey").click()
    console.on_page("Products")

    console.click("Your account")
    console.click("Security log")
    console.on_page("Security log")
    events = console.rows("events")
    assert events[0][1:3] == ["Signed in", "with a passkey"]
    assert ["Passkey added", "“Work laptop”"] in [row[1:3] for row in events]
    console.click("Passkeys")
    console.on_page("Passkeys")
    assert console.rows("passkeys")[0][2] != "never"

    # The same device cannot hold a second passkey of the account; another device can.
    console.click("Add a passkey")
    console.fill("Name of the passkey", "Phone")
    console.prove(PASSWORD, codes[1])
    console.button("Add passkey").click()
    assert "already holds a passkey" in console.alert()
    assert "enter a new one" in console.alert()
    driver.remove_virtual_authenticator()  # the laptop is put away
    platform_authenticator(driver)
    # A browser without WebAuthn's JSON helpers: the console converts the bytes itself.
    assert driver.execute_script(WITHOUT_JSON_HELPERS) == ["undefined"] * 3
    console.prove(PASSWORD, codes[4])
    console.button("Add passkey").click()
    console.on_page("Passkeys")
    assert [row[0].split(":")[0].strip() for row in console.rows("passkeys")] == [
        "Blue key",
        "Phone",
    ]
    console.click("Sign out")
    console.on_page("Sign in")
    console.fill("Username", "kim")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    console.button("Sign in with a passkey").click()
    console.on_page("Products")

    # Removed with a proof, they are no longer offered at sign-in.
    console.click("Your account")
    for name, code in (("Blue key", codes[2]), ("Phone", codes[3])):
        console.click("Passkeys")
        console.on_page("Passkeys")
        console.click(f"{name}: rename or remove")
        console.on_page(f"Passkey “{name}”")
        console.prove(PASSWORD, code)
        console.button("Remove passkey").click()
        console.on_page("Passkeys")
        assert "removed" in console.flash()
    console.shows("No passkeys yet.")
    console.click("Sign out")
    console.on_page("Sign in")
    console.fill("Username", "kim")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    console.field("6-digit code from your authenticator app")
    assert not driver.find_elements(By.XPATH, "//button[.='Sign in with a passkey']")
    same_origin_only(seen.collect(), site)
    no_page_errors(driver, 403)
