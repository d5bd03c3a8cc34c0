"""Webhooks in the console, in headless Chromium against a real server.

An admin adds an endpoint pointing at a receiver on the loopback (allowed for this server
through WEBHOOK_ALLOWED_NETWORKS), sees its signing secret once, and once a product is
created sees the delivery delivered (the server's background worker sends it, signed with
that secret); then disables the endpoint, rotates its secret, and deletes it. Every screen
is checked with axe-core.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from chromium import RequestLog, no_page_errors, same_origin_only
from console_driver import Console
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from standardwebhooks import Webhook
from support import HttpAuth, LiveServer, create_product, server_env, start_server, stop_server
from support.receiver import Receiver, receiver
from support.waiting import wait_until

from shopapi.config import Settings

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.sqlite_only]

SECRETS = (".shown-code",)  # blurred in the docs' pictures
DELIVERIES_DRAWN = "//table[contains(@class, 'deliveries')] | //p[.='No deliveries yet.']"
EVENTS_ERROR = "//fieldset[contains(@class, 'events')]//p[contains(@class, 'field-error')]"


@pytest.fixture
def live_server(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> Iterator[LiveServer]:
    """`python app.py`, allowed to deliver to the loopback (where the receiver listens)."""
    env = server_env(settings, secrets_env, WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")
    server = start_server(env, tmp_path / "server.log")
    yield server
    stop_server(server)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def shown_secret(console: Console, title: str) -> str:
    console.on_page(title)
    secret = str(console.find("//code[contains(@class, 'shown-code')]", "the secret").text)
    assert secret.startswith("whsec_")
    return secret


def on_endpoint(console: Console) -> None:
    """On an endpoint's page (its heading names it by id)."""
    console.wait(lambda: console.heading().startswith("Webhook endpoint "))


def tick_event(console: Console, event_type: str) -> None:
    console.driver.find_element(By.CSS_SELECTOR, f"input[value='{event_type}']").click()


def test_an_admin_adds_an_endpoint_sees_its_deliveries_and_rotates_and_deletes_it(
    console: Console, live_server: LiveServer, hook: Receiver, downloads: Path
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    console.sign_up("wanda")  # the first account: an admin

    console.click("Administration")
    console.click("Webhooks")
    console.on_page("Webhooks")
    console.shows("No webhook endpoints.")
    console.click("Add endpoint")
    console.on_page("Add a webhook endpoint")

    # A refusal of the API is shown beside the fields it names, and nothing is added.
    console.fill("URL", hook.url)
    console.button("Add endpoint").click()
    refused = console.find(EVENTS_ERROR, "the error beside the events")
    assert refused.text
    console.check("webhook-refused")

    tick_event(console, "product.created")
    tick_event(console, "product.updated")
    console.fill("Description", "Warehouse system")
    console.check("webhook-new", docs=True)
    console.button("Add endpoint").click()
    secret = shown_secret(console, "The endpoint's signing secret")
    console.check("webhook-secret", blur=SECRETS, docs=True)
    console.button("Download as text").click()
    assert secret in console.downloaded(downloads)
    console.button("Done").click()
    console.shows("Tick the box once the secret is stored.")
    console.field("I have stored the secret").click()
    console.button("Done").click()
    on_endpoint(console)
    assert secret not in console.text()  # shown once
    console.shows("The endpoint is added")
    console.shows("No deliveries yet.")

    # A product is created: the server's worker delivers it, signed with the secret.
    other = HttpAuth(live_server.url)
    _, token = other.sign_in(other.register("warehouse"))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    product_id = create_product(api, {}, live_server.url, name="Wall clock").json()["id"]
    [sent] = hook.wait_for(1)
    event = Webhook(secret).verify(sent.body, sent.headers)
    assert event["type"] == "product.created" and event["data"]["id"] == product_id

    def delivered() -> bool:
        console.button("Show").click()  # the page drawn again, as it is now
        console.find(DELIVERIES_DRAWN, "the deliveries")
        return any(row[2] == "Delivered" for row in shown_deliveries(console))

    wait_until(delivered, seconds=30, what="the delivery shown delivered")
    [row] = console.rows("deliveries")
    assert row[1] == "product.created" and row[3] == "1" and row[4] == "200"
    console.check("webhook-endpoint", docs=True)

    # The status filter lives in the address; a retry sends the same event again.
    Select(console.field("Status")).select_by_value("failed")
    console.button("Show").click()
    console.shows("No failed deliveries.")
    assert "status=failed" in driver.current_url
    Select(console.field("Status")).select_by_value("delivered")
    console.button("Show").click()
    console.button(f"Retry now delivery {row[0]}").click()
    console.shows(f"Delivery {row[0]} is sent again shortly.")
    again = hook.wait_for(2)[1]
    assert again.headers["webhook-id"] == sent.headers["webhook-id"]

    # Disabled: the page says so.
    console.field("Enabled").click()
    console.button("Save changes").click()
    console.shows("The endpoint is saved.")
    console.shows("disabled: no new deliveries")
    console.check("webhook-disabled")

    # Rotated (asks first): the new secret is shown once and differs.
    console.button("Rotate secret…").click()
    console.dialog("Rotate the signing secret?")
    console.check("webhook-rotate")
    console.button("Rotate secret").click()
    rotated = shown_secret(console, "The endpoint's new signing secret")
    assert rotated != secret
    console.field("I have stored the secret").click()
    console.button("Done").click()
    console.shows("The secret is rotated.")

    # Deleted (asks first): gone from the list, and its page says so.
    endpoint_url = driver.current_url.split("?")[0]
    console.button("Delete endpoint…").click()
    console.dialog("Delete this webhook endpoint?")
    console.button("Delete endpoint").click()
    console.on_page("Webhooks")
    console.shows("The webhook endpoint is deleted.")
    console.shows("No webhook endpoints.")
    console.check("webhooks-empty")
    driver.get(endpoint_url)
    assert "There is no webhook endpoint" in console.alert()

    no_page_errors(driver, 422, 404)  # the refused add, the deleted endpoint
    same_origin_only(seen.collect(), live_server.url)


def shown_deliveries(console: Console) -> list[list[str]]:
    cells = console.driver.execute_script(
        "return [...document.querySelectorAll('table.deliveries tbody tr')]"
        ".map(tr => [...tr.children].map(td => td.innerText.trim()))"
    )
    return [list(row) for row in cells]
