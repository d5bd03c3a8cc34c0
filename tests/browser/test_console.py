"""The web console in headless Chromium against the real server, as a shop's staff use it.

A person registers, scans the QR code from the screen (the test decodes the picture and
computes codes with pyotp, as a phone would), signs in, manages products while someone
else edits the same ones through the API, and signs out; another works by keyboard only
on a 360-pixel-wide phone. An admin changes roles, disables and enables an account,
unlocks it and resets its authenticator, and the account's own console follows at its
next action. Every screen is checked with axe-core, and nothing the page loads or calls
leaves the service's own origin.
"""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
import requests
from chromium import RequestLog, no_page_errors, same_origin_only
from console_driver import Console
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from support import PASSWORD, HttpAuth, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECRETS = (".qr", ".secret", ".codes")  # blurred in the docs' pictures


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
    console.check("product")

    # Someone else, with a client of their own, changes the price while alice edits.
    other = HttpAuth(live_server.url)
    bob, token = other.sign_in(other.register("bob"))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    console.click("Edit")
    console.on_page("Edit product")
    assert console.value("Price") == "19.90"  # the form holds the product as read
    console.check("edit")
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
    # Name, SKU, description, price, quantity, available
    assert first_page[0][:4] == ["Desk lamp", "none", "Warm light", "25.00"]
    assert first_page[1][:6] == ["Mug 00", "none", "none", "0.50", "0", "0"]
    console.check("products", docs=True)
    console.click("Next page")
    console.wait(lambda: console.rows()[0][0] == "Mug 09")
    assert [r[0] for r in console.rows()] == ["Mug 09", "Mug 10"]
    console.click("Previous page")
    console.wait(lambda: console.rows() == first_page)
    # A cursor edited by hand in the address: the API's refusal, and a way back.
    driver.execute_script("location.hash = '#/products?limit=10&page=2&cursor=made-up'")
    assert "cursor" in console.alert()
    console.click("Back to the first page")
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
    console.shows("Role\nadmin")  # the first account of a new service
    console.check("account")
    console.button("Sign out").click()
    console.on_page("Sign in")
    assert "signed out" in console.flash()
    driver.get(f"{live_server.url}/#/products")
    console.on_page("Sign in")

    # Signing in with a recovery code instead of the app.
    console.fill("Username", "alice")
    console.sign_in_with_recovery_code(PASSWORD, codes[0], check="sign-in-code")
    console.on_page("Products")
    console.click("Sign out")
    console.on_page("Sign in")

    same_origin_only(requests_seen.collect(), live_server.url)
    no_page_errors(driver, 412, 422)


def end_session_elsewhere(seen: RequestLog, url: str) -> None:
    """Sign out with the console's latest token, as seen on the wire, from another client."""
    seen.collect()
    token = next(
        value
        for headers in reversed(seen.headers)
        for name, value in headers.items()
        if name.lower() == "authorization"
    )
    ended = requests.post(f"{url}/auth/logout", headers={"Authorization": token}, timeout=10)
    assert ended.status_code == 204


@pytest.mark.sqlite_only
def test_a_session_ended_elsewhere_resumes_without_losing_what_was_typed(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    codes = console.sign_up("dave")
    console.click("New product")
    console.on_page("New product")
    console.fill("Name", "Kettle")
    console.fill("Price", "42.00")
    console.fill("Quantity", "2")

    # The session ends elsewhere: its token, as a proxy on the way saw it, signs out.
    end_session_elsewhere(seen, live_server.url)

    console.button("Create product").click()
    console.find("//dialog//h2[.='Sign in again']", "the sign-in dialog")
    assert console.value("Username") == "dave"
    console.sign_in_with_recovery_code(PASSWORD, codes[0], check="sign-in-again")
    console.wait(lambda: not driver.find_elements(By.TAG_NAME, "dialog"))

    # The form kept everything; saving again creates the product once.
    assert [console.value(f) for f in ("Name", "Price", "Quantity")] == ["Kettle", "42.00", "2"]
    console.button("Create product").click()
    console.on_page("Kettle")
    console.click("Products")
    console.on_page("Products")
    assert [r[0] for r in console.rows()] == ["Kettle"]

    # Signing out of a session that already ended elsewhere just signs out.
    end_session_elsewhere(seen, live_server.url)
    console.click("Sign out")
    console.on_page("Sign in")
    assert "signed out" in console.flash()
    assert not driver.find_elements(By.TAG_NAME, "dialog")
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 401)


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_keyboard_only_on_a_360_pixel_phone(console: Console, live_server: LiveServer) -> None:
    driver = console.driver
    requests_seen = RequestLog(driver)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True},
    )
    driver.get(f"{live_server.url}/#/register")
    console.on_page("Create an account")
    assert console.tab_to("Skip to main content")
    console.tab_to("Username")
    console.press("carol")
    console.tab_to("Password")
    console.press(PASSWORD, Keys.ENTER)
    console.on_page("Set up your authenticator")
    console.fits()
    console.check("setup-360", blur=SECRETS, docs=True)
    totp = pyotp.parse_uri(console.scan_qr_code())
    console.tab_to("I have saved my recovery codes")
    console.press(Keys.SPACE)
    console.tab_to("Continue")
    console.press(Keys.ENTER)
    console.on_page("Confirm your authenticator")
    console.tab_to("6-digit code from your authenticator app")
    console.press(totp.now(), Keys.ENTER)
    console.on_page("Products")
    console.fits()

    console.tab_to("New product")
    console.press(Keys.ENTER)
    console.on_page("New product")
    console.tab_to("Name")
    console.press("Teapot for a very long shelf label that wraps on a phone")
    console.tab_to("Price")
    console.press("31")
    console.tab_to("Quantity")
    console.press("4", Keys.ENTER)
    console.on_page("Teapot for a very long shelf label that wraps on a phone")
    console.shows("31.00")
    console.fits()
    console.tab_to("Products", back=True)
    console.press(Keys.ENTER)
    console.on_page("Products")
    assert console.rows()[0][:4] == [
        "Teapot for a very long shelf label that wraps on a phone",
        "none",
        "none",
        "31.00",
    ]
    console.fits()
    console.check("products-360", docs=True)

    same_origin_only(requests_seen.collect(), live_server.url)
    no_page_errors(driver)


@pytest.mark.sqlite_only
def test_an_admin_disables_unlocks_and_resets_an_account_and_its_console_follows(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    console.sign_up("olga")  # the first account: an admin
    admin_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    codes = console.sign_up("pete")
    old_app = console.totp
    assert old_app is not None
    user_tab = driver.current_window_handle
    in_dialog = "//dialog//*[@role='alert' and contains(@class, 'alert')]"

    # Disabled: the user's next action asks for a sign-in, which the service refuses.
    driver.switch_to.window(admin_tab)
    console.click("Administration")
    console.on_page("Users")
    console.click("pete")
    console.on_page("pete")
    console.button("Disable account").click()
    console.shows("pete is disabled")
    console.shows("State\ndisabled")
    driver.switch_to.window(user_tab)
    console.click("Your account")
    console.dialog("Sign in again")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    assert "disabled" in console.find(in_dialog, "the refusal").text

    # Enabled again, the same dialog signs in and the page carries on.
    driver.switch_to.window(admin_tab)
    console.button("Enable account").click()
    console.shows("pete can sign in again")
    driver.switch_to.window(user_tab)
    console.button("Continue").click()
    console.field("a recovery code").click()
    console.fill("Recovery code", codes[0])
    console.button("Sign in").click()
    console.wait(lambda: not driver.find_elements(By.TAG_NAME, "dialog"))
    console.shows("Username\npete")

    # Someone guesses pete's password until the account locks: a new device is refused
    # (pete's own tab is not: its device token vouches for it) until an admin unlocks.
    for _ in range(10):
        requests.post(
            f"{live_server.url}/auth/login",
            json={"username": "pete", "password": "a-guess-that-is-wrong"},
            timeout=30,
        )
    driver.switch_to.new_window("tab")
    new_device = driver.current_window_handle
    driver.get(f"{live_server.url}/#/sign-in")
    console.on_page("Sign in")
    console.fill("Username", "pete")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    assert "Try again in" in console.alert()
    driver.switch_to.window(admin_tab)
    console.click("All users")
    console.click("pete")
    console.shows("locked")
    console.check("admin-user-locked")
    console.button("Unlock").click()
    console.shows("failed attempts are forgotten")
    driver.switch_to.window(new_device)
    console.button("Continue").click()
    console.field("a recovery code").click()
    console.fill("Recovery code", codes[1])
    console.button("Sign in").click()
    console.on_page("Products")

    # A reset authenticator: every session ends, the next sign-in shows a new QR code.
    driver.switch_to.window(admin_tab)
    console.button("Reset authenticator…").click()
    console.dialog("Reset the authenticator of pete?")
    console.button("Reset authenticator").click()
    console.shows("pete's authenticator is reset")
    driver.switch_to.window(user_tab)
    console.click("Products")
    console.dialog("Sign in again")
    console.fill("Password", PASSWORD)
    console.button("Continue").click()
    new_app = pyotp.parse_uri(console.scan_qr_code())
    assert isinstance(new_app, pyotp.TOTP) and new_app.secret != old_app.secret
    console.check("sign-in-new-authenticator")
    console.fill("6-digit code from your authenticator app", new_app.now())
    console.button("Sign in").click()
    console.wait(lambda: not driver.find_elements(By.TAG_NAME, "dialog"))
    console.on_page("Products")
    same_origin_only(seen.collect(), live_server.url)
    no_page_errors(driver, 401, 403, 429)
