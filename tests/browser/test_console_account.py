"""The console's account pages and its sessions, in headless Chromium against a real server.

A person changes the password and signs in with the new one, replaces the recovery codes
and signs in with a new one, signs out everywhere from the sessions page (another tab is
signed out at its next action) or just one other session, replaces the authenticator by
scanning the new QR code from the page (the old phone's codes stop working), deletes the
account (nothing signs in as it afterwards), and keeps working past the access token's
lifetime: the console refreshes it, once for several requests refused together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from chromium import RequestLog, no_page_errors, same_origin_only
from console_driver import Console, axe_source
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from support import (
    PASSWORD,
    HttpAuth,
    LiveServer,
    bearer,
    loopback_address,
    server_env,
    start_server,
    stop_server,
    wait_until,
)

from shopapi.config import Settings

# The console does not depend on the database: one browser test runs on MariaDB too
# (tests/browser/test_console.py, the staff member's whole flow).
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.sqlite_only]

NEW_PASSWORD = "quiet-meadow-copper-kite"
SECRETS = (".qr", ".secret", ".codes")  # blurred in the docs' pictures


def test_a_new_password_and_new_recovery_codes_are_what_signs_in_afterwards(
    console: Console, live_server: LiveServer, downloads: Path
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    codes = console.sign_up("frank")

    # A refused new password: the API's reason beside the field, everything kept.
    console.click("Your account")
    console.on_page("Your account")
    console.click("Change password")
    console.on_page("Change password")
    console.fill("New password", "short")
    console.prove(PASSWORD, codes[0])
    console.button("Change password").click()
    assert "8" in console.error_beside("New password")
    assert console.value("New password") == "short"
    assert console.value("Recovery code") == codes[0]
    console.check("password-refused")
    # A wrong current password: refused as a whole, so the recovery code is not used up.
    console.fill("New password", NEW_PASSWORD)
    console.fill("Current password", "not-the-password")
    console.button("Change password").click()
    assert "wrong" in console.alert()
    console.fill("Current password", PASSWORD)
    console.check("password", docs=True)
    console.button("Change password").click()
    console.on_page("Your account")
    assert "password is changed" in console.flash()

    # The old password no longer signs in; the new one does (codes[0] was used up once).
    console.click("Sign out")
    console.on_page("Sign in")
    console.fill("Username", "frank")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    assert "password" in console.alert().lower()
    console.sign_in("frank", NEW_PASSWORD, codes[1])
    console.on_page("Products")

    # Ten new recovery codes, shown once, downloadable; the earlier ones stop working.
    console.click("Your account")
    console.click("New recovery codes")
    console.on_page("New recovery codes")
    console.prove(NEW_PASSWORD, codes[2])
    console.button("Make new recovery codes").click()
    console.on_page("Your new recovery codes")
    fresh = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".codes li")]
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    console.check("recovery-codes", blur=SECRETS, docs=True)
    console.button("Download as text").click()
    assert all(code in console.downloaded(downloads) for code in fresh)
    console.button("Done").click()  # not ticked: the page says so and stays
    assert "Tick the box" in console.find("//*[contains(@class, 'field-error')]", "why").text
    console.field("I have saved them").click()
    console.button("Done").click()
    console.on_page("Your account")

    console.click("Sign out")
    console.on_page("Sign in")
    console.sign_in("frank", NEW_PASSWORD, codes[3])
    assert "wrong" in console.alert().lower()
    console.fill("Recovery code", fresh[0])
    console.button("Sign in").click()
    console.on_page("Products")

    # The security log tells the story, newest first.
    console.click("Your account")
    console.click("Security log")
    console.on_page("Security log")
    events = [row[1] for row in console.rows("events")]
    assert events[:4] == ["Signed in", "Wrong code", "Signed out", "New recovery codes"]
    assert {"Password changed", "Wrong password", "Account created"} <= set(events)
    console.check("security-log", docs=True)
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 401, 403, 422)


def test_sign_out_everywhere_signs_out_the_other_tab_at_its_next_action(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    codes = console.sign_up("grace")
    first = driver.current_window_handle
    # A second tab keeps its own tokens in memory: a second session of the account.
    driver.switch_to.new_window("tab")
    console.sign_in("grace", PASSWORD, codes[0])
    console.on_page("Products")
    second = driver.current_window_handle

    driver.switch_to.window(first)
    console.click("Your account")
    console.click("Sessions")
    console.on_page("Sessions")
    rows = console.rows("sessions")
    assert len(rows) == 2
    assert sum("(this session)" in row[0] for row in rows) == 1
    console.check("sessions", docs=True)
    console.click("Sign out everywhere…")
    console.dialog("Sign out everywhere?")
    console.check("sign-out-everywhere")
    console.button("Sign out everywhere").click()
    console.on_page("Sign in")
    assert "signed out everywhere" in console.flash()

    # The other tab still shows its page; its next action asks for a sign-in.
    driver.switch_to.window(second)
    console.click("Your account")
    console.dialog("Sign in again")
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 401)


@pytest.fixture
def short_token_server(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> Iterator[LiveServer]:
    """A server whose access tokens live 5 seconds (the API's are 10 minutes)."""
    env = server_env(settings, secrets_env, ACCESS_TOKEN_TTL="5")
    server = start_server(env, tmp_path / "short-server.log")
    yield server
    stop_server(server)


def requests_logged(
    server: LiveServer, remote_addr: str = "127.0.0.1"
) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request from `remote_addr` (the browser's) in the
    server's log."""
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    return [
        (line["method"], line["path"], int(line["status"]))
        for line in lines
        if "path" in line and line.get("remote_addr") == remote_addr
    ]


def wait_for_tokens_to_run_out(server: LiveServer) -> None:
    """Until every access token the server has issued so far is refused: a probe account
    (from its own address, so that its requests are not the browser's) signs in now, and
    its token, which runs out no sooner than any earlier one, is tried until refused."""
    probe = HttpAuth(server.url, loopback_address())
    _, token = probe.sign_in()  # a fresh account each time: no waiting for a TOTP step
    wait_until(
        lambda: (
            probe.http.get(f"{server.url}/auth/me", headers=bearer(token), timeout=30).status_code
            == 401
        ),
        seconds=30,
        what="the access tokens running out",
        every=0.25,
    )


def test_the_console_refreshes_its_token_once_for_requests_refused_together(
    browser: Any, short_token_server: LiveServer, backend: str
) -> None:
    console = Console(browser, short_token_server.url, axe_source(), f"{backend}-refresh")
    seen = RequestLog(browser)
    console.sign_up("heidi")

    for _ in (1, 2):
        wait_for_tokens_to_run_out(short_token_server)  # the console does not know yet
        before = len(requests_logged(short_token_server))

        def since() -> list[tuple[str, str, int]]:
            return requests_logged(short_token_server)[before:]  # noqa: B023 - used at once

        # The account page asks who is signed in twice at once (the page, the role check).
        console.click("Your account")
        console.on_page("Your account")
        console.shows("heidi")
        # Both refused requests are sent again once the refresh is done (the log lines come
        # from a thread every 50 ms: wait for them).
        wait_until(
            lambda: since().count(("GET", "/auth/me", 200)) >= 2,
            what="the account page's requests sent again after the refresh",
        )
        # Refused together, and one refresh (a second one with the same refresh token
        # would have ended the session).
        logged = since()
        assert [entry for entry in logged if entry[1] == "/auth/refresh"] == [
            ("POST", "/auth/refresh", 200)
        ], logged
        assert [entry for entry in logged if entry[2] == 401] == [("GET", "/auth/me", 401)] * 2
        console.click("Products")
        console.on_page("Products")
        assert not browser.find_elements(By.TAG_NAME, "dialog")  # no sign-in asked for

    same_origin_only(seen.collect(), short_token_server.url)
    no_page_errors(browser, 401)


def test_an_admin_changes_a_role_and_the_users_console_follows_at_its_next_page(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    console.sign_up("ivan")  # the first account of a new service is an admin
    admin_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    console.sign_up("judy")  # an editor: may change products, not administer
    user_tab = driver.current_window_handle
    console.link("New product")
    assert not driver.find_elements(By.XPATH, "//a[.='Administration']")

    driver.switch_to.window(admin_tab)
    console.click("Administration")
    console.on_page("Users")
    accounts = console.rows("users")
    assert [row[:4] for row in accounts] == [
        ["ivan", "person", "admin", "enabled"],
        ["judy", "person", "editor", "enabled"],
    ]
    ivan_id, judy_id = accounts[0][5], accounts[1][5]  # ids are never reused across tests
    console.check("admin-users", docs=True)
    console.click("judy")
    console.on_page("judy")
    Select(console.field("Role")).select_by_visible_text("viewer")
    console.check("admin-user", docs=True)
    console.button("Change role").click()
    console.shows("judy is now viewer")

    # The user's console: the next page shows what a viewer may do, and nothing more.
    driver.switch_to.window(user_tab)
    console.click("Your account")
    console.shows("Role\nviewer")
    console.click("Products")
    console.on_page("Products")
    console.shows("No products yet.")
    assert not driver.find_elements(By.XPATH, "//a[.='New product']")
    # Typing the new product's address: a notice of what the role allows, not a form.
    driver.get(f"{console.base}/#/products/new")
    console.on_page("New product")
    console.shows("Your role (viewer) can't create products")
    assert not driver.find_elements(By.XPATH, "//button[.='Create product']")
    console.check("product-new-viewer")

    # Made an admin, the user finds the administration at the next page.
    driver.switch_to.window(admin_tab)
    Select(console.field("Role")).select_by_visible_text("admin")
    console.button("Change role").click()
    console.shows("judy is now admin")
    driver.switch_to.window(user_tab)
    console.click("Your account")
    console.link("Administration")

    # An invite (a lifetime the API refuses first), and the log of the role changes.
    driver.switch_to.window(admin_tab)
    console.click("Invites")
    console.on_page("Invites")
    console.fill("Valid for (days)", "31")
    console.button("Create invite").click()
    assert console.error_beside("Valid for (days)")
    console.fill("Valid for (days)", "2")
    console.button("Create invite").click()
    code = console.find("//code[contains(@class, 'shown-code')]", "the invite code").text
    assert len(code) >= 16
    console.check("admin-invites", blur=(".shown-code",), docs=True)
    console.click("Security log")
    console.on_page("Security log of all accounts")
    console.fill("User id", judy_id)
    Select(console.field("Event")).select_by_visible_text("Role changed")
    console.button("Show").click()
    console.wait(lambda: len(console.rows("events")) == 2)
    assert [row[3] for row in console.rows("events")] == [
        f"from viewer to admin; by admin (user {ivan_id})",
        f"from editor to viewer; by admin (user {ivan_id})",
    ]
    console.check("admin-events", docs=True)
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 422)


def test_one_session_signed_out_a_new_authenticator_then_the_account_deleted(
    console: Console, live_server: LiveServer, http_auth: HttpAuth
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    http_auth.register("owner")  # the first account is the admin, which may not leave
    codes = console.sign_up("lena")
    old_app = console.totp
    assert old_app is not None
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    console.sign_in("lena", PASSWORD, codes[0])
    console.on_page("Products")
    second = driver.current_window_handle

    # The first tab signs out the other session, and only that one.
    driver.switch_to.window(first)
    console.click("Your account")
    console.click("Sessions")
    console.on_page("Sessions")
    assert len(console.rows("sessions")) == 2
    console.find(
        "//table[contains(@class, 'sessions')]//tr[not(.//strong)]//button", "the other session"
    ).click()
    assert "is signed out" in console.flash()
    rows = console.rows("sessions")
    assert len(rows) == 1 and "(this session)" in rows[0][0]
    driver.switch_to.window(second)
    console.click("Your account")
    console.dialog("Sign in again")
    driver.close()
    driver.switch_to.window(first)

    # A new phone: the new QR code scanned from the page, confirmed with its first code.
    console.click("Replace authenticator")
    console.on_page("Replace authenticator")
    console.prove(PASSWORD, codes[1])
    console.button("Continue").click()
    console.on_page("Scan your new authenticator")
    new_app = pyotp.parse_uri(console.scan_qr_code())
    assert isinstance(new_app, pyotp.TOTP) and new_app.secret != old_app.secret
    console.check("authenticator-scan", blur=SECRETS, docs=True)
    console.fill("6-digit code from the new authenticator", new_app.now())
    console.button("Confirm new authenticator").click()
    console.on_page("Your account")
    assert "new authenticator is set up" in console.flash()

    # The old phone's code no longer signs in; the new phone's does.
    console.click("Sign out")
    console.on_page("Sign in")
    console.fill("Username", "lena")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    console.fill("6-digit code from your authenticator app", old_app.now())
    console.button("Sign in").click()
    assert "wrong" in console.alert()
    # The confirming code took this time step: the next step's code, accepted as drift.
    console.fill("6-digit code from your authenticator app", new_app.at(time.time() + 30))
    console.button("Sign in").click()
    console.on_page("Products")

    # Deleting the account: the proof and DELETE typed out; then nothing signs in.
    console.click("Your account")
    console.click("Delete account")
    console.on_page("Delete account")
    console.prove(PASSWORD, codes[2])
    console.button("Delete my account").click()
    assert "DELETE" in console.error_beside("Type DELETE to confirm")
    assert console.value("Recovery code") == codes[2]
    console.fill("Type DELETE to confirm", "DELETE")
    console.check("delete-account")
    console.button("Delete my account").click()
    console.on_page("Sign in")
    assert "account is deleted" in console.flash()
    console.fill("Username", "lena")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    assert "wrong" in console.alert()
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 401)
