"""Stock in the console, in headless Chromium against a real server.

A shop's staff member looks at a product's stock, is refused a sale of more than is
available (and told how much is), records a delivery, holds stock for a buyer on the
phone and sells it by committing the reservation, and releases another; the movements
list and the reservations page show what happened. Every screen is checked with axe-core.
"""

from __future__ import annotations

import pytest
import requests
from chromium import RequestLog, no_page_errors, same_origin_only
from console_driver import Console
from selenium.webdriver.support.ui import Select
from support import HttpAuth, LiveServer, create_product

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.sqlite_only]


def figures(console: Console) -> dict[str, str]:
    """The stock figures as the page shows them: Quantity, Available, Held by reservations."""
    shown = console.driver.execute_script(
        "return [...document.querySelectorAll('dl.stock dt')]"
        ".map(dt => [dt.innerText.trim(), dt.nextElementSibling.innerText.trim()])"
    )
    return dict(shown)


def test_staff_move_stock_and_sell_through_a_reservation_in_the_console(
    console: Console, live_server: LiveServer
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    console.sign_up("stella")  # the first account: an admin, who may also edit
    other = HttpAuth(live_server.url)
    _, token = other.sign_in(other.register("warehouse"))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    created = create_product(api, {}, live_server.url, name="Desk fan", quantity=10)
    product_id = created.json()["id"]

    driver.get(f"{live_server.url}/#/products/{product_id}")
    console.on_page("Desk fan")
    console.shows("Available")
    console.click("Stock")
    console.on_page("Stock of “Desk fan”")
    assert figures(console) == {"Quantity": "10", "Available": "10", "Held by reservations": "0"}
    assert [row[1:3] for row in console.rows("movements")] == [["+10", "Initial stock"]]

    # More than there is: refused, with how much is available, and the form keeps its input.
    console.fill("Change", "-12")
    Select(console.field("Reason")).select_by_visible_text("Sold")
    console.button("Record movement").click()
    assert "Available now: 10." in console.alert()
    assert console.value("Change") == "-12"
    console.check("stock-refused")

    # A delivery: the quantity grows and the movement is listed first.
    console.fill("Change", "5")
    Select(console.field("Reason")).select_by_visible_text("Received")
    console.fill("Note", "Delivery 4711")
    console.button("Record movement").click()
    assert "Recorded +5 (Received). Quantity now 15." in console.flash()
    assert figures(console)["Quantity"] == "15"
    rows = console.rows("movements")
    assert [row[1:5] for row in rows] == [
        ["+5", "Received", "Delivery 4711", "15"],
        ["+10", "Initial stock", "none", "10"],
    ]
    console.check("stock", docs=True)

    # A buyer on the phone: hold 4 for 15 minutes; others see 11 available.
    console.fill("Quantity to hold", "4")
    console.fill("Note", "Phone order, Ms Ito")
    console.button("Hold stock").click()
    console.wait(lambda: console.heading().startswith("Reservation "))
    reservation_id = int(driver.current_url.rsplit("/", 1)[1])
    assert "Holding 4 of “Desk fan”" in console.flash()
    console.shows("Held")
    read = api.get(f"{live_server.url}/api/products/{product_id}", timeout=10).json()
    assert (read["quantity"], read["available"]) == (15, 11)
    console.check("reservation", docs=True)

    # Commit: the items are sold (a movement of -4); the reservation reads committed.
    console.click("Commit (sell)…")
    console.dialog(f"Commit reservation {reservation_id}?")
    console.button("Commit").click()
    console.wait(lambda: "committed" in console.flash())
    console.shows("Committed (sold)")
    assert not driver.find_elements("xpath", "//button[normalize-space(.)='Release…']")

    # A second hold, released: nothing sold, the stock is free again.
    driver.get(f"{live_server.url}/#/products/{product_id}/stock")
    console.on_page("Stock of “Desk fan”")
    assert figures(console) == {"Quantity": "11", "Available": "11", "Held by reservations": "0"}
    console.fill("Quantity to hold", "20")
    console.button("Hold stock").click()
    assert "Only 11 available." in console.alert()
    console.fill("Quantity to hold", "3")
    console.button("Hold stock").click()
    assert "Holding 3" in console.flash()
    console.click("Release…")
    console.button("Release").click()
    console.wait(lambda: "released" in console.flash())
    console.shows("Released")

    # The reservations page: both, newest first, and filtered by status in the URL.
    console.click("Reservations")
    console.on_page("Reservations")
    statuses = [row[1] for row in console.rows("reservations")]
    assert statuses == ["Released", "Committed (sold)"]
    Select(console.field("Status")).select_by_visible_text("Committed (sold)")
    console.button("Show").click()
    console.wait(lambda: "status=committed" in driver.current_url)
    rows = console.rows("reservations")
    assert [row[0] for row in rows] == [f"Reservation {reservation_id}"]
    console.check("reservations", docs=True)

    driver.get(f"{live_server.url}/#/products/{product_id}/stock")
    console.on_page("Stock of “Desk fan”")
    assert [row[1:3] for row in console.rows("movements")][0] == ["-4", "Sold"]
    no_page_errors(driver, 409)  # the refused sale and hold
    same_origin_only(seen.collect(), live_server.url)
