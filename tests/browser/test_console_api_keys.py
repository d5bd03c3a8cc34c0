"""API keys in the console, in headless Chromium against a real server.

A person makes a key for a script with a fresh proof, sees it once (copied, downloaded),
the script reads products with it over plain HTTP and is refused a write its scopes do not
allow, and once the person revokes it in the console the script's next request is 401.
An admin makes a service account, a key for it, and revokes that key the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from chromium import RequestLog, no_page_errors, same_origin_only
from console_driver import Console
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from support import PASSWORD, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.sqlite_only]

SECRETS = (".shown-code", ".codes")  # blurred in the docs' pictures


def with_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def shown_key(console: Console) -> str:
    console.on_page("Your new API key")
    key = str(console.find("//code[contains(@class, 'shown-code')]", "the key").text)
    assert key.startswith("shk_")
    return key


def test_a_key_made_in_the_console_works_once_shown_and_stops_when_revoked(
    console: Console, live_server: LiveServer, downloads: Path
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    codes = console.sign_up("ivan")
    products = f"{live_server.url}/api/products"

    console.click("Your account")
    console.click("API keys")
    console.on_page("API keys")
    console.shows("No API keys.")
    console.click("Create an API key")
    console.on_page("Create an API key")
    console.fill("Name of the key", "Storefront")
    console.check("api-key-new", docs=True)
    console.prove(PASSWORD, codes[0])
    console.button("Create key").click()
    key = shown_key(console)
    console.check("api-key-shown", blur=SECRETS, docs=True)
    console.button("Download as text").click()
    assert key in console.downloaded(downloads)
    console.field("I have stored the key").click()
    console.button("Done").click()
    console.on_page("API keys")
    assert key not in console.text()  # shown once: the list has its start only
    [row] = console.rows("api-keys")
    assert row[0] == "Storefront" and key.startswith(row[1]) and row[2] == "products:read"

    # The script: reads with the key, is refused a write its scopes do not allow.
    assert requests.get(products, headers=with_key(key), timeout=10).status_code == 200
    write = requests.post(
        products,
        json={"name": "Kettle", "price": "19.90", "quantity": 1},
        headers={**with_key(key), "Idempotency-Key": "a2b5c8d1-0000-4000-8000-000000000001"},
        timeout=10,
    )
    assert write.status_code == 403 and "products:write" in write.json()["detail"]

    # Revoked in the console (asks first): the script's next request is refused.
    console.button("Revoke… the key Storefront").click()
    console.dialog("Revoke the key “Storefront”?")
    console.check("api-key-revoke")
    console.button("Revoke key").click()
    console.shows("is revoked")
    console.shows("No API keys.")
    assert requests.get(products, headers=with_key(key), timeout=10).status_code == 401

    no_page_errors(driver)
    same_origin_only(seen.collect(), live_server.url)


def test_an_admin_makes_a_service_account_and_its_key_and_revokes_it(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    console.sign_up("olga")  # the first account: an admin
    products = f"{live_server.url}/api/products"

    console.click("Administration")
    console.click("Service accounts")
    console.on_page("Service accounts")
    console.fill("Username", "storefront")
    Select(console.field("Role")).select_by_value("editor")
    console.check("admin-service-account")
    console.button("Create service account").click()
    console.on_page("storefront")
    console.shows("Kind\nservice account")
    console.shows("No API keys.")

    console.click("New API key")
    console.on_page("New API key for storefront")
    console.fill("Name of the key", "Catalogue sync")
    driver.find_element(By.CSS_SELECTOR, "input[value='products:write']").click()
    console.check("admin-api-key-new")
    console.button("Create key").click()
    key = shown_key(console)
    console.button("Copy").click()
    console.shows("Copied.")
    console.field("I have stored the key").click()
    console.button("Done").click()
    console.on_page("storefront")

    # The key writes as the service account (an editor), with its scope.
    made = requests.post(
        products,
        json={"name": "Teapot", "price": "24.50", "quantity": 3},
        headers={**with_key(key), "Idempotency-Key": "a2b5c8d1-0000-4000-8000-000000000002"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    me = requests.get(f"{live_server.url}/auth/me", headers=with_key(key), timeout=10).json()
    assert me["username"] == "storefront" and me["api_key"]["name"] == "Catalogue sync"

    # The users list tells people from service accounts.
    console.click("Administration")
    console.on_page("Users")
    kinds = {row[0]: row[1] for row in console.rows("users")}
    assert kinds == {"olga": "person", "storefront": "service account"}
    console.click("storefront")
    console.on_page("storefront")
    [row] = console.rows("api-keys")
    assert row[0] == "Catalogue sync" and key.startswith(row[1])
    console.check("admin-service-account-keys", docs=True)

    console.button("Revoke… the key Catalogue sync").click()
    console.button("Revoke key").click()
    console.shows("is revoked")
    console.shows("No API keys.")
    assert requests.get(products, headers=with_key(key), timeout=10).status_code == 401
    no_page_errors(driver)
