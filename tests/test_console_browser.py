"""The web console in headless Chromium against the real server, as a shop's staff use it.

A person registers, scans the QR code from the screen (the test decodes the picture and
computes codes with pyotp, as a phone would), signs in, manages products while someone
else edits the same ones through the API, and signs out; another works by keyboard only
on a 360-pixel-wide phone. Every screen is checked with axe-core, and nothing the page
loads or calls leaves the service's own origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from chromium import RequestLog, chromium, severe_messages
from conftest import PASSWORD, HttpAuth, LiveServer
from console_driver import Console, axe_source
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECRETS = (".qr", ".secret", ".codes")  # blurred in the README's pictures


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


@pytest.fixture
def browser(tmp_path: Path, downloads: Path) -> Iterator[Any]:
    with chromium(tmp_path, window=(1280, 1000), downloads=downloads) as driver:
        yield driver


@pytest.fixture
def console(browser: Any, live_server: LiveServer, backend: str) -> Console:
    return Console(browser, live_server.url, axe_source(), backend)


def same_origin_only(urls: list[str], base: str) -> None:
    origin = urlsplit(base)
    outside = [
        u
        for u in urls
        if urlsplit(u).scheme not in {"data", "blob"}
        and (urlsplit(u).scheme, urlsplit(u).netloc) != (origin.scheme, origin.netloc)
    ]
    assert not outside, f"requests outside {base}: {outside}"
    assert urls, "no request was seen"


def no_page_errors(driver: Any, *provoked: int) -> None:
    """No script error or refused load; Chromium also logs every 4xx answer to fetch(),
    so the statuses a test `provoked` on purpose (a bad price, a stale version) pass."""
    expected = tuple(f"the server responded with a status of {status}" for status in provoked)
    errors = [m for m in severe_messages(driver) if not any(e in m for e in expected)]
    assert not errors, errors


def test_staff_member_registers_signs_in_and_manages_products_through_the_console(
    console: Console, live_server: LiveServer, downloads: Path
) -> None:
    driver = console.driver
    requests_seen = RequestLog(driver)
    driver.get(live_server.url + "/")
    console.on_page("Sign in")  # nobody is signed in yet
    console.check("sign-in", docs=True)

    # Registration: a refused password is explained beside its field, the name is kept.
    console.click("Create an account")
    console.on_page("Create an account")
    console.fill("Username", "alice")
    console.fill("Password", "password")
    console.button("Create account").click()
    assert "common" in console.error_beside("Password")
    assert console.value("Username") == "alice"
    console.check("register-refused")
    console.fill("Password", PASSWORD)
    console.button("Create account").click()

    # The enrolment: a QR code to scan, the same key for typing, ten recovery codes.
    console.on_page("Set up your authenticator")
    totp = pyotp.parse_uri(console.scan_qr_code())
    assert isinstance(totp, pyotp.TOTP) and totp.name == "alice"
    assert console.find("//code[contains(@class, 'secret')]", "the key").text == totp.secret
    codes = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".codes li")]
    assert len(codes) == 10 and len(set(codes)) == 10
    console.check("setup", blur=SECRETS, docs=True)
    console.button("Download as text").click()
    saved = console.downloaded(downloads)
    assert all(code in saved for code in codes)
    console.button("Continue").click()  # not ticked yet: the page says so and stays
    assert "Tick the box" in console.find("//*[contains(@class, 'field-error')]", "why").text
    assert console.heading() == "Set up your authenticator"
    console.field("I have saved my recovery codes").click()
    console.button("Continue").click()

    # The first code from the app confirms the authenticator and signs in.
    console.on_page("Confirm your authenticator")
    console.fill("6-digit code from your authenticator app", totp.now())
    console.check("confirm")
    console.button("Sign in").click()
    console.on_page("Products")
    console.shows("No products yet")
    assert console.storage() == {"local": 0, "session": 0, "cookie": ""}

    # A price the API refuses: its message beside the field, every input kept.
    console.click("New product")
    console.on_page("New product")
    console.fill("Name", "Desk lamp")
    console.fill("Description", "Warm light")
    console.fill("Price", "19.905")
    console.fill("Quantity", "3")
    console.button("Create product").click()
    assert console.error_beside("Price")
    assert "invalid fields" in console.alert()
    assert [console.value(f) for f in ("Name", "Description", "Price", "Quantity")] == [
        "Desk lamp",
        "Warm light",
        "19.905",
        "3",
    ]
    console.check("product-refused", docs=True)
    console.fill("Price", "19.90")
    console.button("Create product").click()
    console.on_page("Desk lamp")
    assert "created" in console.flash()
    product_id = int(driver.current_url.rsplit("/", 1)[1])
    console.shows("19.90")

    # Someone else, with a client of their own, changes the price while alice edits.
    other = HttpAuth(live_server.url)
    bob, token = other.sign_in(other.register("bob"))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    console.click("Edit")
    console.on_page("Edit product")
    changed = api.patch(
        f"{live_server.url}/api/products/{product_id}",
        json={"price": "25.00"},
        headers={"If-Match": '"1"'},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    console.fill("Quantity", "5")
    console.button("Save changes").click()
    console.find("//h2[.='Someone changed this product while you were editing']", "the conflict")
    assert console.rows("conflict-table") == [
        ["Price", "19.90", "(unchanged)", "25.00"],
        ["Quantity", "3", "5", "3"],
    ]
    assert (console.value("Price"), console.value("Quantity")) == ("25.00", "5")
    console.check("conflict", docs=True)
    console.button("Save changes").click()
    console.on_page("Desk lamp")
    assert "version 3" in console.flash()
    saved_now = api.get(f"{live_server.url}/api/products/{product_id}", timeout=10).json()
    assert (saved_now["price"], saved_now["quantity"], saved_now["version"]) == ("25.00", 5, 3)

    # The list, a page at a time, with products from both clients.
    for n in range(11):
        made = api.post(
            f"{live_server.url}/api/products",
            json={"name": f"Mug {n:02d}", "price": f"{n}.50", "quantity": n},
            timeout=10,
        )
        assert made.status_code == 201, made.text
    console.click("Products")
    console.on_page("Products")
    Select(console.field("Products per page")).select_by_visible_text("10")
    console.wait(lambda: len(console.rows()) == 10)
    first_page = console.rows()
    assert first_page[0][:3] == ["Desk lamp", "Warm light", "25.00"]
    assert first_page[1][:4] == ["Mug 00", "none", "0.50", "0"]
    console.check("products", docs=True)
    console.click("Next page")
    console.wait(lambda: console.rows()[0][0] == "Mug 09")
    assert [r[0] for r in console.rows()] == ["Mug 09", "Mug 10"]
    console.click("Previous page")
    console.wait(lambda: console.rows() == first_page)

    # Delete, after a change of mind; the history stays readable.
    console.click("Desk lamp")
    console.on_page("Desk lamp")
    console.click("Delete…")
    console.check("delete-dialog")
    console.click("Cancel")
    assert console.heading() == "Desk lamp"
    console.click("Delete…")
    console.click("Delete")
    console.on_page("Products")
    assert "deleted" in console.flash()
    assert "Desk lamp" not in [r[0] for r in console.rows()]
    console.click("See its history")
    console.on_page("History of “Desk lamp”")
    entries = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".history-entry h2")]
    assert entries == [
        "Version 1: Created",
        "Version 2: Updated",
        "Version 3: Updated",
        "Version 4: Deleted",
    ]
    meta = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".history-entry .meta")]
    assert "by you" in meta[0] and f"by user {bob.id}" in meta[1] and "by you" in meta[2]
    console.check("history", docs=True)

    # Who am I; sign out; the console no longer opens protected pages.
    console.click("Your account")
    console.on_page("Your account")
    console.shows("alice")
    console.check("account")
    console.button("Sign out").click()
    console.on_page("Sign in")
    assert "signed out" in console.flash()
    driver.get(f"{live_server.url}/#/products")
    console.on_page("Sign in")

    # Signing in with a recovery code instead of the app.
    console.fill("Username", "alice")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    console.field("a recovery code").click()
    console.fill("Recovery code", codes[0])
    console.check("sign-in-code")
    console.button("Sign in").click()
    console.on_page("Products")
    console.click("Sign out")
    console.on_page("Sign in")

    same_origin_only(requests_seen.collect(), live_server.url)
    no_page_errors(driver, 412, 422)


def sign_up(console: Console, url: str, username: str) -> list[str]:
    """Register in the console and sign in with the app's first code; the recovery codes."""
    console.driver.get(f"{url}/#/register")
    console.on_page("Create an account")
    console.fill("Username", username)
    console.fill("Password", PASSWORD)
    console.button("Create account").click()
    console.on_page("Set up your authenticator")
    totp = pyotp.parse_uri(console.scan_qr_code())
    codes = [e.text for e in console.driver.find_elements(By.CSS_SELECTOR, ".codes li")]
    console.field("I have saved my recovery codes").click()
    console.button("Continue").click()
    console.on_page("Confirm your authenticator")
    console.fill("6-digit code from your authenticator app", totp.now())
    console.button("Sign in").click()
    console.on_page("Products")
    return codes


def test_a_session_ended_elsewhere_resumes_without_losing_what_was_typed(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    codes = sign_up(console, live_server.url, "dave")
    console.click("New product")
    console.on_page("New product")
    console.fill("Name", "Kettle")
    console.fill("Price", "42.00")
    console.fill("Quantity", "2")

    # The session ends elsewhere: its token, as a proxy on the way saw it, signs out.
    seen.collect()
    token = next(
        value
        for headers in reversed(seen.headers)
        for name, value in headers.items()
        if name.lower() == "authorization"
    )
    ended = requests.post(
        f"{live_server.url}/auth/logout", headers={"Authorization": token}, timeout=10
    )
    assert ended.status_code == 204

    console.button("Create product").click()
    console.find("//dialog//h2[.='Sign in again']", "the sign-in dialog")
    assert console.value("Username") == "dave"
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    console.field("a recovery code").click()
    console.fill("Recovery code", codes[0])
    console.check("sign-in-again")
    console.button("Sign in").click()
    console.wait(lambda: not driver.find_elements(By.TAG_NAME, "dialog"))

    # The form kept everything; saving again creates the product once.
    assert [console.value(f) for f in ("Name", "Price", "Quantity")] == ["Kettle", "42.00", "2"]
    console.button("Create product").click()
    console.on_page("Kettle")
    console.click("Products")
    console.on_page("Products")
    assert [r[0] for r in console.rows()] == ["Kettle"]
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 401)


def test_an_account_that_never_scanned_its_qr_code_gets_it_again_at_sign_in(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    # Registered with another client, whose answer (and QR code) was lost.
    HttpAuth(live_server.url).register("erin")

    driver.get(f"{live_server.url}/")
    console.on_page("Sign in")
    console.fill("Username", "erin")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    totp = pyotp.parse_uri(console.scan_qr_code())
    assert isinstance(totp, pyotp.TOTP) and totp.name == "erin"
    console.check("sign-in-enrolment", blur=SECRETS)
    console.fill("6-digit code from your authenticator app", totp.now())
    console.button("Sign in").click()
    console.on_page("Products")
    console.click("Your account")
    console.on_page("Your account")
    console.shows("erin")
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver)


def tab_to(console: Console, name: str, back: bool = False, limit: int = 40) -> Any:
    """Press Tab (Shift+Tab) until the control called `name` has focus; each stop shows it."""
    driver = console.driver
    for _ in range(limit):
        keys = ActionChains(driver)
        if back:
            keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
        else:
            keys.send_keys(Keys.TAB)
        keys.perform()
        focused = driver.switch_to.active_element
        if focused.tag_name == "body":  # the page itself, before the first control
            continue
        style = driver.execute_script(
            "const s = getComputedStyle(arguments[0]);"
            "return [s.outlineStyle, parseFloat(s.outlineWidth)]",
            focused,
        )
        label = driver.execute_script(
            "const e = arguments[0], named = e.labels && e.labels.length ? e.labels[0] : e;"
            "return (named.innerText || '').trim()",
            focused,
        )
        assert style[0] != "none" and style[1] >= 2, f"no visible focus on {label!r}"
        if label == name or label.startswith(f"{name} ("):
            return focused
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")


def type_keys(console: Console, *keys: str) -> None:
    ActionChains(console.driver).send_keys(*keys).perform()


def fits(console: Console) -> None:
    width = console.driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert width[0] <= width[1], f"the page is wider than the screen: {width}"


def test_keyboard_only_on_a_360_pixel_phone(console: Console, live_server: LiveServer) -> None:
    driver = console.driver
    requests_seen = RequestLog(driver)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True},
    )
    driver.get(f"{live_server.url}/#/register")
    console.on_page("Create an account")
    assert tab_to(console, "Skip to main content")
    tab_to(console, "Username")
    type_keys(console, "carol")
    tab_to(console, "Password")
    type_keys(console, PASSWORD, Keys.ENTER)
    console.on_page("Set up your authenticator")
    fits(console)
    console.check("setup-360", blur=SECRETS, docs=True)
    totp = pyotp.parse_uri(console.scan_qr_code())
    tab_to(console, "I have saved my recovery codes")
    type_keys(console, Keys.SPACE)
    tab_to(console, "Continue")
    type_keys(console, Keys.ENTER)
    console.on_page("Confirm your authenticator")
    tab_to(console, "6-digit code from your authenticator app")
    type_keys(console, totp.now(), Keys.ENTER)
    console.on_page("Products")
    fits(console)

    tab_to(console, "New product")
    type_keys(console, Keys.ENTER)
    console.on_page("New product")
    tab_to(console, "Name")
    type_keys(console, "Teapot for a very long shelf label that wraps on a phone")
    tab_to(console, "Price")
    type_keys(console, "31")
    tab_to(console, "Quantity")
    type_keys(console, "4", Keys.ENTER)
    console.on_page("Teapot for a very long shelf label that wraps on a phone")
    console.shows("31.00")
    fits(console)
    tab_to(console, "Products", back=True)
    type_keys(console, Keys.ENTER)
    console.on_page("Products")
    assert console.rows()[0][:3] == [
        "Teapot for a very long shelf label that wraps on a phone",
        "none",
        "31.00",
    ]
    fits(console)
    console.check("products-360", docs=True)

    same_origin_only(requests_seen.collect(), live_server.url)
    no_page_errors(driver)
